// Scenario program for test/e2e/tpm.test.ts: one SecureBootVm with tpm: true and backups. Config:
//   hosts (JSON, the test hosts), privateKey (secret), host (a|b: where the VM lives),
//   domainName (the libvirt name: a change renames the VM), running (true|false), hostMove (cold|live)
//   and migrationAddress (for a live host move).
import * as pulumi from "@pulumi/pulumi";
import { SecureBootVm, type ConnectionArgs } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const on = config.get("host") ?? "a";
const h = hosts.find((x) => x.name === on);
if (h === undefined) throw new Error(`no test host ${on}`);
const connection: ConnectionArgs = { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: config.requireSecret("privateKey") };

const vm = new SecureBootVm("e2e-tpm", {
  connection,
  name: config.get("domainName") ?? "e2e-tpm",
  memoryMiB: 256,
  vcpus: 1,
  tpm: true,
  backupTpm: true,
  running: config.get("running") !== "false",
  shutdownTimeoutSeconds: 5,
  ...(config.get("hostMove") === undefined ? {} : { hostMove: config.require("hostMove") as "cold" | "live" }),
  ...((config.get("migrationAddress") ?? "") === "" ? {} : { migrationAddress: config.require("migrationAddress") }),
});

export const domainName = vm.domainName;
export const uuid = vm.uuid;
export const nvramPath = vm.nvramPath;
export const serialLogPath = vm.serialLogPath;
export const tpmPath = vm.tpm!.path;
export const tpmSha256 = vm.tpm!.sha256;
export const ekSha256 = vm.tpm!.certificates.apply((certs) => certs.filter((c) => c.kind === "ek").map((c) => c.sha256));
