import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, FirmwareImage, Nvram, Q35Domain } from "pulumi-ovmf";

const config = new pulumi.Config();
const connection = connectionFromConfig(config);

// Windows 11 wants UEFI, Secure Boot and a TPM 2.0. Microsoft's keys come enrolled with the firmware.
const firmware = new FirmwareImage("ovmf", { connection, secureBoot: true, enrolledKeys: true });
// backup: the UEFI variables (boot entries written by the installer) also live in the stack state.
const nvram = new Nvram("win11", { connection, firmware, backup: true });

export const domain = new Q35Domain("win11", {
  connection,
  firmware,
  nvram,
  memoryMiB: 8192,
  vcpus: 4,
  disks: [{ path: config.get("disk") ?? "/var/lib/libvirt/images/win11.qcow2", format: "qcow2", bus: "sata", bootOrder: 2 }],
  // q35 has no IDE: both CD-ROMs are SATA (the default).
  cdroms: [{ path: config.get("installerIso") ?? "/var/lib/libvirt/images/Win11.iso", bootOrder: 1 }, { path: config.get("virtioIso") ?? "/var/lib/libvirt/images/virtio-win.iso" }],
  networks: [{ network: "default", model: "e1000e" }],
  tpm: true,
  usb: true, // qemu-xhci + tablet: the pointer follows the VNC cursor
}).name;
