/**
 * pulumi-ovmf: UEFI and Secure Boot VMs on your own libvirt hosts, managed over SSH.
 * @packageDocumentation
 */
export { connectionFromConfig, type ConnectionArgs } from "./connection.js";
export { FirmwareImage, type FirmwareImageArgs, type FirmwareFile } from "./firmware-image.js";
export { HostInfo, type HostInfoArgs, type Readiness, type ReadinessCheck, type ReadinessStatus } from "./host-info.js";
export { Nvram, DEFAULT_NVRAM_DIR, microsoftCertificates, type NvramArgs, type SecureBootKeys, type SignatureSummary, type VarStoreSummary } from "./nvram.js";
export { Q35Domain, type Q35DomainArgs, type CdromSpec, type DiskSpec, type GraphicsSpec, type HostdevSpec, type NetworkSpec, type SerialSpec } from "./q35-domain.js";
export { SecureBootVm, type SecureBootVmArgs } from "./secure-boot-vm.js";
export { TpmState, type TpmStateArgs, type TpmCertificate } from "./tpm-state.js";
