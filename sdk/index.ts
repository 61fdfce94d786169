/**
 * pulumi-ovmf: UEFI and Secure Boot VMs on your own libvirt hosts, managed over SSH.
 * @packageDocumentation
 */
export type { ConnectionArgs } from "./connection.js";
export { HostInfo, type HostInfoArgs } from "./host-info.js";
