// Fleet benchmark program for bench/fleet.mts. Config:
//   hosts (JSON, the test hosts), privateKey (secret), n (VMs), hostCount (1 or 2: VM k goes to
//   host k mod hostCount), mode: "provider" (SecureBootVms sharing one FirmwareImage per host,
//   defined, and started when running is true), "floor" (the same graph of dynamic resources that do
//   nothing, no SSH, with one or two properties each) or "replay" (the resources of a provider stack,
//   read from the JSON file `replay`, each with the same type, parent, dependencies, inputs and
//   outputs (secrets kept secret) but a provider that does nothing: the engine's and SDK's own cost
//   of this resource shape; with replayDelayMs, each create and delete of it waits that long).
import { readFileSync } from "node:fs";
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
} else if (config.require("mode") === "replay") {
  type Recorded = { custom: boolean; type: string; name: string; id?: string; parent?: string; dependsOn: string[]; inputs: Record<string, unknown>; outputs: Record<string, unknown> };
  const file = config.require("replay");
  const recorded = JSON.parse(readFileSync(file, "utf8")) as Recorded[];
  // A stack export marks a secret as { <signature>: <secret signature>, plaintext: <JSON> }: each
  // becomes `secret(value)` (for the program, pulumi.secret; for the provider's outputs, the value).
  const decode = (v: unknown, secret: (x: unknown) => unknown): unknown => {
    if (Array.isArray(v)) return v.map((x) => decode(x, secret));
    if (v === null || typeof v !== "object") return v;
    const o = v as Record<string, unknown>;
    if (o["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270") return secret(decode(JSON.parse(String(o["plaintext"])), secret));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x, secret)]));
  };
  const reveal = (v: unknown): unknown => decode(v, (x) => pulumi.secret(x));
  class Component extends pulumi.ComponentResource {
    constructor(type: string, name: string, outputs: pulumi.Inputs, opts: pulumi.ComponentResourceOptions) {
      super(type, name, {}, opts);
      this.registerOutputs(outputs);
    }
  }
  class Custom extends pulumi.dynamic.Resource {}
  const made = new Map<string, pulumi.Resource>();
  const lookup = (n: string): pulumi.Resource => {
    const r = made.get(n);
    if (r === undefined) throw new Error(`replay: ${n} comes after a resource that needs it`);
    return r;
  };
  for (const r of recorded) {
    const opts = { ...(r.parent === undefined ? {} : { parent: lookup(r.parent) }), dependsOn: r.dependsOn.map(lookup) };
    if (!r.custom) {
      made.set(r.name, new Component(r.type, r.name, reveal(r.outputs) as pulumi.Inputs, opts));
      continue;
    }
    // The provider finds its resource's recorded outputs in the file at create time: a closure that
    // holds only the file name and the resource's name, as small in the state as a real shim.
    const name = r.name;
    // replayDelayMs: each create and delete waits this long first (a provider with that latency
    // and no work at all), 0 unless set.
    const delay = config.getNumber("replayDelayMs") ?? 0;
    const provider: pulumi.dynamic.ResourceProvider = {
      delete: async () => {
        if (delay > 0) await new Promise((ok) => setTimeout(ok, delay));
      },
      create: async () => {
        if (delay > 0) await new Promise((ok) => setTimeout(ok, delay));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fs = require("fs") as typeof import("node:fs");
        const all = JSON.parse(fs.readFileSync(file, "utf8")) as Recorded[];
        const me = all.find((x) => x.name === name);
        return { id: me?.id ?? name, outs: decode(me?.outputs ?? {}, (x) => x) as Record<string, unknown> };
      },
    };
    // Inputs as given, and every output the real class declares (undefined until created), as the SDK classes pass them.
    const props = { ...Object.fromEntries(Object.keys(r.outputs).map((k) => [k, undefined])), ...(reveal(r.inputs) as Record<string, unknown>) };
    const [, mod, kind] = /^pulumi-nodejs:dynamic\/([^:]+):(.+)$/.exec(r.type) ?? [];
    made.set(r.name, new Custom(provider, r.name, props, opts, mod, kind));
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
