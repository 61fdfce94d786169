import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, FirmwareImage, Nvram, Q35Domain } from "pulumi-ovmf";

const config = new pulumi.Config();
const connection = connectionFromConfig(config);

const firmware = new FirmwareImage("ovmf", { connection, secureBoot: true, enrolledKeys: true });
const nvram = new Nvram("gaming", { connection, firmware });

// The GPU and its audio function share one guest slot behind their own PCIe root port; the GPU is
// the primary display, so no emulated VGA is added and there is no VNC.
export const domain = new Q35Domain("gaming", {
  connection,
  firmware,
  nvram,
  memoryMiB: 16384,
  vcpus: 8,
  cpuMode: "host-passthrough",
  domainType: "kvm",
  disks: [{ path: config.get("disk") ?? "/var/lib/libvirt/images/gaming.qcow2", format: "qcow2", bootOrder: 1 }],
  graphics: { type: "none" },
  hostdevs: [
    { address: config.get("gpu") ?? "0000:01:00.0", primaryGpu: true },
    { address: config.get("gpuAudio") ?? "0000:01:00.1" },
  ],
}).name;
