// Fault harness program for bench/faults.mts: one SecureBootVm with an NVRAM file and a TPM state,
// on test host a or b (one FirmwareImage on each, always declared). Config: hosts (JSON, the test
// hosts), privateKey (secret), present (whether the VM is declared), host, name, memoryMiB, running,
// hostMove (cold|live).
import * as pulumi from "@pulumi/pulumi";
import { FirmwareImage, SecureBootVm, type ConnectionArgs } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const privateKey = config.requireSecret("privateKey");
const connection = (name: string): ConnectionArgs => {
  const h = hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`no test host ${name}`);
  return { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey };
};
const firmware = { a: new FirmwareImage("faults-fw-a", { connection: connection("a"), secureBoot: true, enrolledKeys: true }), b: new FirmwareImage("faults-fw-b", { connection: connection("b"), secureBoot: true, enrolledKeys: true }) };

const host = config.get("host") === "b" ? "b" : "a";
export const declared = config.getBoolean("present") ?? true;
const vm = !declared
  ? undefined
  : new SecureBootVm("ovmf-fault-vm", {
    connection: connection(host),
    firmware: firmware[host],
    name: config.require("name"),
    memoryMiB: config.requireNumber("memoryMiB"),
    vcpus: 1,
    tpm: true,
    running: config.getBoolean("running") ?? false,
    shutdownTimeoutSeconds: 5,
    hostMove: config.get("hostMove") === "live" ? "live" : "cold",
  });
export const nvramPath = vm?.nvramPath;
export const uuid = vm?.uuid;
