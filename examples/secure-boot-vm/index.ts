import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, SecureBootVm } from "pulumi-ovmf";

const config = new pulumi.Config();
const connection = connectionFromConfig(config);

// The whole VM: Secure Boot firmware with enrolled keys, its own NVRAM, a Q35 domain with SMM.
// It has no disk and so no OS to answer a graceful (ACPI) shutdown: power off after 10 s.
// The VM's name on the host (its libvirt domain and NVRAM file); `pulumi config set vmName web` to
// choose another, also later: the rename replaces the domain and keeps the VM's UEFI variables (the
// NVRAM file moves to web_VARS.fd) and, with a TPM, its TPM and UUID. The resource name "sb-demo"
// stays fixed: it is what the stack knows the VM by (see the README, "Renaming a VM").
// `pulumi config set tpm true` adds an emulated TPM 2.0, whose state a TpmState keeps.
// secureBootKeys: the template's PK, with Microsoft's 2011 and 2023 CAs in KEK and db.
const vm = new SecureBootVm("sb-demo", {
  connection,
  name: config.get("vmName") ?? "sb-demo",
  tpm: config.getBoolean("tpm") ?? false,
  memoryMiB: config.getNumber("memoryMiB") ?? 512,
  vcpus: 1,
  shutdownTimeoutSeconds: 10,
  secureBootKeys: { microsoft: "both" },
});

export const domainName = vm.domainName;
export const uuid = vm.uuid;
export const secureBoot = vm.secureBoot;
export const nvramPath = vm.nvramPath;
export const firmware = vm.codePath;
export const serialLogPath = vm.serialLogPath;
// Which of Microsoft's Secure Boot certificates the VM trusts (read from its NVRAM).
export const microsoftCertificates = vm.nvram.varStore.apply((store) => store?.microsoftCertificates ?? []);
