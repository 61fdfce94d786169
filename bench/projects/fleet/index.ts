// Fleet benchmark program for bench/fleet.mts. Config:
//   hosts (JSON, the test hosts), privateKey (secret), n (VMs), hostCount (1 or 2: VM k goes to
//   host k mod hostCount), mode: "provider" (SecureBootVms sharing one FirmwareImage per host,
//   defined, and started when running is true) or "floor" (the same graph of dynamic resources that do nothing, no SSH).
import * as pulumi from "@pulumi/pulumi";
import { FirmwareImage, SecureBootVm, type ConnectionArgs } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const privateKey = config.requireSecret("privateKey");
const n = config.requireNumber("n");
const on = hosts.slice(0, config.getNumber("hostCount") ?? 1);
const pick = <T>(list: readonly T[], i: number): T => {
  const item = list[i % list.length];
  if (item === undefined) throw new Error("hostCount must be 1 or more, and at most the number of test hosts");
  return item;
};
const connection = (i: number): ConnectionArgs => {
  const h = pick(on, i);
  return { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey };
};

if (config.require("mode") === "provider") {
  const firmware = on.map((h, i) => new FirmwareImage(`fleet-fw-${h.name}`, { connection: connection(i), secureBoot: true, enrolledKeys: true }));
  for (let k = 0; k < n; k++) {
    new SecureBootVm(`fleet-${k}`, { connection: connection(k), firmware: pick(firmware, k), memoryMiB: 128, vcpus: 1, running: config.getBoolean("running") ?? false, shutdownTimeoutSeconds: 5 });
  }
} else {
  // The engine's own cost for this graph: the same resources and dependencies, no work.
  const noop: pulumi.dynamic.ResourceProvider = { create: async (inputs: Record<string, unknown>) => ({ id: String(inputs["name"]), outs: inputs }) };
  class Noop extends pulumi.dynamic.Resource {
    constructor(name: string, props: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
      super(noop, name, { name, ...props }, opts);
    }
  }
  const firmware = on.map((h) => new Noop(`fleet-fw-${h.name}`, {}));
  for (let k = 0; k < n; k++) {
    const vm = new pulumi.ComponentResource("bench:index:Vm", `fleet-${k}`);
    const nvram = new Noop(`fleet-${k}-nvram`, { firmware: pick(firmware, k).id }, { parent: vm });
    new Noop(`fleet-${k}-domain`, { nvram: nvram.id, firmware: pick(firmware, k).id }, { parent: vm });
  }
}
