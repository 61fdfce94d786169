// Scenario program for test/e2e/trust.test.ts: SecureBootVms booting one EFI disk each, under the
// Secure Boot keys they declare. Config:
//   hosts (JSON, the test hosts), privateKey (secret), keysDir (a directory holding db.crt, our own
//   certificate, PEM), vms (JSON list of { name, disk, trust, revoke? }):
//     trust "own"       PK, KEK and db are db.crt; revoke lists SHA-256 hashes for dbx
//     trust "template"  no secureBootKeys: the firmware's vars template as Debian ships it
//     trust "2011" | "2023" | "both"  Microsoft's set of that generation (the template's PK kept)
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { FirmwareImage, SecureBootVm, type ConnectionArgs, type SecureBootKeys } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const h = hosts.find((x) => x.name === "a");
if (h === undefined) throw new Error("no test host a");
const connection: ConnectionArgs = { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: config.requireSecret("privateKey") };

interface Vm {
  name: string;
  disk: string;
  trust: "own" | "template" | "2011" | "2023" | "both";
  revoke?: string[];
}
const vms = config.requireObject<Vm[]>("vms");
const own = fs.readFileSync(path.join(config.require("keysDir"), "db.crt"), "utf8");

function keysOf(vm: Vm): SecureBootKeys | undefined {
  if (vm.trust === "template") return undefined;
  if (vm.trust !== "own") return { microsoft: vm.trust };
  return { platformKey: own, keyExchangeKeys: [own], signatureDatabase: [own], ...(vm.revoke === undefined ? {} : { forbidden: { sha256: vm.revoke } }) };
}

const firmware = new FirmwareImage("e2e-trust-fw", { connection, secureBoot: true, enrolledKeys: true });
const machines = vms.map((vm) => {
  const keys = keysOf(vm);
  return new SecureBootVm(vm.name, {
    connection,
    firmware,
    memoryMiB: 256,
    vcpus: 1,
    disks: [{ path: vm.disk, readonly: true }],
    ...(keys === undefined ? {} : { secureBootKeys: keys }),
    shutdownTimeoutSeconds: 3,
  });
});

export const uuids = Object.fromEntries(vms.map((vm, i) => [vm.name, machines[i]!.uuid]));
export const nvramPaths = Object.fromEntries(vms.map((vm, i) => [vm.name, machines[i]!.nvramPath]));
export const serialLogs = Object.fromEntries(vms.map((vm, i) => [vm.name, machines[i]!.serialLogPath]));
export const secureBoot = Object.fromEntries(vms.map((vm, i) => [vm.name, machines[i]!.secureBoot]));
export const varStores = Object.fromEntries(vms.map((vm, i) => [vm.name, machines[i]!.nvram.varStore]));
