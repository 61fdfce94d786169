import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, SecureBootVm } from "pulumi-ovmf";

const config = new pulumi.Config();
const connection = connectionFromConfig(config);

// Windows 11 wants UEFI, Secure Boot and a TPM 2.0: a SecureBootVm (the host's Secure Boot OVMF with
// Microsoft's keys enrolled) with tpm: true, whose TpmState keeps BitLocker's TPM across renames,
// replacements and host moves. backup*: the UEFI variables (the installer's boot entries) and the
// TPM state (BitLocker's sealed keys) also live in the stack state, as Pulumi secrets.
const vm = new SecureBootVm("win11", {
  connection,
  memoryMiB: 8192,
  vcpus: 4,
  tpm: true,
  backupTpm: true,
  backupNvram: true,
  // Microsoft's 2011 and 2023 CAs: installer media signed by either boot (the 2011 CAs expired in
  // 2026; newer Windows media are signed by the Windows UEFI CA 2023), and Windows can take
  // Microsoft's later db/dbx updates, which need the 2023 KEK.
  secureBootKeys: { microsoft: "both" },
  disks: [{ path: config.get("disk") ?? "/var/lib/libvirt/images/win11.qcow2", format: "qcow2", bus: "sata", bootOrder: 2 }],
  // q35 has no IDE: both CD-ROMs are SATA (the default).
  cdroms: [{ path: config.get("installerIso") ?? "/var/lib/libvirt/images/Win11.iso", bootOrder: 1 }, { path: config.get("virtioIso") ?? "/var/lib/libvirt/images/virtio-win.iso" }],
  networks: [{ network: "default", model: "e1000e" }],
});

export const domain = vm.domainName;
export const uuid = vm.uuid;
// What the VM trusts, by name (see the README's "Secure Boot keys").
export const microsoftCertificates = vm.nvram.varStore.apply((store) => store?.microsoftCertificates ?? []);
export const ekCertificates = vm.tpm?.certificates.apply((certs) => certs.filter((c) => c.kind === "ek").map((c) => `${c.keyType} ${c.subject} serial ${c.serial}`));
