import * as pulumi from "@pulumi/pulumi";
import { SecureBootVm } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const privateKey = config.requireSecret("privateKey");

// The one line to change: the host the VM runs on.
const on = config.get("on") ?? "a";
// How it gets there. "cold" (the default): `pulumi up` stops the VM, moves its NVRAM (boot entries,
// enrolled keys) with a verified copy, and starts it on the new host. "live": the running VM is
// migrated without a reboot; its NVRAM goes with it and leaves the old host once it runs on the new.
const hostMove = config.get("hostMove") === "live" ? "live" : "cold";

const target = hosts.find((h) => h.name === on);
if (target === undefined) throw new Error(`config "on" names no host in "hosts": ${on}`);
const connection = { host: target.host, port: target.port, user: target.user, hostKey: target.hostKey, privateKey };

const vm = new SecureBootVm("mover", { connection, memoryMiB: 256, vcpus: 1, shutdownTimeoutSeconds: 10, hostMove });

export const host = on;
export const domainName = vm.domainName;
export const nvramPath = vm.nvramPath;
export const nvramSha256 = vm.nvram.sha256;
