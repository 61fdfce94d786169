import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, FirmwareImage, SecureBootVm } from "pulumi-ovmf";

const config = new pulumi.Config();
const connection = connectionFromConfig(config);
const count = config.getNumber("count") ?? 3;

// One CODE image for the whole host; every VM gets only its own variable store.
const firmware = new FirmwareImage("host-ovmf", { connection, secureBoot: true, enrolledKeys: true });
const vms = Array.from({ length: count }, (_, i) => new SecureBootVm(`shared-${i}`, { connection, firmware, memoryMiB: 256, vcpus: 1, shutdownTimeoutSeconds: 10 }));

export const domains = vms.map((vm) => vm.domainName);
export const nvramFiles = vms.map((vm) => vm.nvramPath);
// The storage arithmetic of the split layout: one CODE image + N small VARS files, instead of N
// copies of the whole flash image.
export const hostBytes = pulumi.all([firmware.code, firmware.varsTemplate]).apply(([code, vars]) => code.size + count * vars.size);
export const embeddedBytes = pulumi.all([firmware.code, firmware.varsTemplate]).apply(([code, vars]) => count * (code.size + vars.size));
export const savedBytes = pulumi.all([embeddedBytes, hostBytes]).apply(([e, h]) => e - h);
