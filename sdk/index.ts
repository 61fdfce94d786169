/**
 * pulumi-ovmf: UEFI and Secure Boot VMs on your own libvirt hosts, managed over SSH.
 * @packageDocumentation
 */
export type { ConnectionArgs } from "./connection.js";
export { FirmwareImage, type FirmwareImageArgs, type FirmwareFile } from "./firmware-image.js";
export { HostInfo, type HostInfoArgs } from "./host-info.js";
export { Nvram, DEFAULT_NVRAM_DIR, type NvramArgs } from "./nvram.js";
