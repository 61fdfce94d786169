/**
 * Fleet benchmark: N SecureBootVms (defined, not started, or with `:running` started too; one
 * FirmwareImage per host) created, previewed unchanged and destroyed with the real Pulumi CLI, beside
 *   - the engine floor: the same resource graph of dynamic resources that do nothing (no SSH),
 *   - the script: the same host work (NVRAM from the template with fsync and sha256, define, read
 *     back, start; then destroy, undefine and remove) as one shell script per host over ONE SSH
 *     connection. Started VMs are shut down gracefully by the provider (5 s, then forced).
 *   - the shape floor: the provider stack's own resources replayed by dynamic resources that do nothing
 *     (same types, inputs, outputs, secrets, parents and dependencies): what the engine and SDK cost
 *     for this resource shape, so "own work" is what the provider adds to it.
 * Prints a table and JSON; asserts nothing (the running case counts the VMs running after up).
 * Run with the test host up and the package built:
 *   node bench/fleet.mts [N:HOSTS[:running] ...] [--runs R] [--cpu] [--replay-delay MS]   (default 10:1 30:2 20:1:running, 3 runs)
 * --cpu adds, per timed phase, where the machine's CPU time went (by process group, see cpu.mts);
 * --replay-delay MS makes the shape floor's creates and deletes wait MS each (latency, no work).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Host } from "../dist/provider/host/host.js";
import { renderDomain } from "../dist/provider/libvirt/domain-xml.js";
import { resolve } from "../dist/provider/q35-domain/spec.js";
import { closeAll } from "../dist/provider/ssh/pool.js";
import { withCpu } from "./cpu.mts";

const root = path.resolve(import.meta.dirname, "..");
const project = path.join(root, "bench/projects/fleet");
const th = JSON.parse(readFileSync(process.env["PULUMI_OVMF_TESTHOST"] ?? path.join(root, ".testhost/testhost.json"), "utf8"));
const privateKey = readFileSync(th.privateKeyPath, "utf8");
const hostsJson = JSON.stringify(th.hosts.map(({ privateKeyPath: _k, ...h }: Record<string, unknown>) => h));
const stateDir = path.join(project, ".pulumi-state");
mkdirSync(stateDir, { recursive: true });
const env = { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "pulumi-ovmf-local-test-stacks", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true" };

/** sshd logins so far on every test host (each host's sshd logs its own; "Accepted key" lines are key probes, not logins). */
function logins(): number {
  const logs = [th.sshdLog, ...th.hosts.filter((h: { name: string }) => h.name !== "a").map((h: { name: string }) => path.join(path.dirname(th.sshdLog), `host-${h.name}`, "sshd.log"))];
  return logs.filter((f) => existsSync(f)).reduce((n, f) => n + readFileSync(f, "utf8").split("\n").filter((l) => /^Accepted (publickey|password|keyboard-interactive\S*) for /.test(l)).length, 0);
}

function run(cmd: string, args: string[], stdin = ""): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: project, env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.stdin.end(stdin);
    child.on("close", (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(" ")} failed:\n${out.slice(-3000)}`))));
  });
}

const pulumi = (stack: string, ...args: string[]) => run("pulumi", [...args, "--non-interactive", "--color", "never", "--stack", stack]);
/** The key goes in on stdin, never on a command line. */
const setKey = (stack: string) => run("pulumi", ["config", "set", "--secret", "privateKey", "--non-interactive", "--stack", stack], privateKey);

async function timed<T>(f: () => Promise<T>, label: string): Promise<{ s: number; logins: number }> {
  let before = 0;
  let since = 0;
  const measured = async () => {
    before = logins();
    const t0 = performance.now();
    since = Date.now();
    await f();
    return (performance.now() - t0) / 1000;
  };
  const s = await (cpu ? withCpu(label, path.join(stateDir, "perf.data"), measured) : measured());
  const trace = traceSummary(process.env["PULUMI_OVMF_TRACE"], since, Date.now());
  if (trace !== "") console.log(`${label}: ${trace}`);
  return { s, logins: logins() - before };
}

/** The provider stack's resources as the "replay" mode of the program wants them (see its header). */
function recordForReplay(exported: string, to: string): void {
  type Res = { urn: string; custom: boolean; type: string; id?: string; parent?: string; dependencies?: string[]; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  const resources = (JSON.parse(readFileSync(exported, "utf8")) as { deployment: { resources: Res[] } }).deployment.resources;
  const ours = (r: Res) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:");
  const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
  const kept = new Set(resources.filter(ours).map((r) => r.urn));
  const without = (o: Record<string, unknown> = {}) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== "__provider"));
  const recorded = resources.filter(ours).map((r) => ({
    custom: r.custom,
    type: r.type,
    name: nameOf(r.urn),
    ...(r.id === undefined ? {} : { id: r.id }),
    ...(r.parent !== undefined && kept.has(r.parent) ? { parent: nameOf(r.parent) } : {}),
    dependsOn: (r.dependencies ?? []).filter((d) => kept.has(d)).map(nameOf),
    inputs: without(r.inputs),
    outputs: without(r.outputs),
  }));
  writeFileSync(to, JSON.stringify(recorded), { mode: 0o600 });
  rmSync(exported);
}

/** create, unchanged preview and destroy of one stack of the fleet program. */
async function cli(mode: "provider" | "floor" | "replay", n: number, hosts: number, running: boolean) {
  const stack = `${mode}-${n}-${hosts}${running ? "-running" : ""}`;
  const replayFile = path.join(stateDir, `replay-${n}-${hosts}${running ? "-running" : ""}.json`);
  await pulumi(stack, "stack", "select", "--create");
  await pulumi(stack, "config", "set-all", "--plaintext", `hosts=${hostsJson}`, "--plaintext", `n=${n}`, "--plaintext", `hostCount=${hosts}`, "--plaintext", `mode=${mode}`, "--plaintext", `running=${running}`, "--plaintext", `replay=${replayFile}`, "--plaintext", `replayDelayMs=${replayDelayMs}`);
  await setKey(stack);
  await pulumi(stack, "destroy", "--yes").catch(() => undefined);
  const create = await timed(() => pulumi(stack, "up", "--yes", "--skip-preview"), `${stack} up`);
  if (mode === "provider") {
    // The test key is in it in clear: the file is the owner's only, and removed once converted (the
    // replay file too, after the shape floor's run).
    const exported = path.join(stateDir, "export.json");
    await pulumi(stack, "stack", "export", "--show-secrets", "--file", exported);
    recordForReplay(exported, replayFile);
  }
  const runningAfterUp = mode === "provider" && running ? await countRunning(hosts) : undefined;
  const preview = await timed(() => pulumi(stack, "preview", "--expect-no-changes"), `${stack} preview`);
  const destroy = await timed(() => pulumi(stack, "destroy", "--yes"), `${stack} destroy`);
  await pulumi(stack, "stack", "rm", "--yes", "--force");
  // The replay holds the key in clear: gone once the shape floor has run (each round records it anew).
  if (mode === "replay") rmSync(replayFile, { force: true });
  return { create, preview, destroy, runningAfterUp };
}

/** The fleet's domains running on the first `hosts` test hosts. */
async function countRunning(hosts: number): Promise<number> {
  let count = 0;
  for (const h of th.hosts.slice(0, hosts) as Array<{ host: string; port: number; user: string; hostKey: string }>) {
    const r = await new Host({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey }).run(["virsh", "-q", "-c", "qemu:///system", "list", "--state-running", "--name"]);
    count += r.stdout.split("\n").filter((d) => /^fleet-\d+$/.test(d.trim())).length;
  }
  closeAll();
  return count;
}

/** The same host work as a careful script: one SSH connection per host, one remote shell each. */
async function script(n: number, hosts: number, running: boolean) {
  const on = th.hosts.slice(0, hosts);
  const byHost = on.map((_h: unknown, i: number) => Array.from({ length: n }, (_, k) => k).filter((k) => k % hosts === i));
  const firmware = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", features: ["secure-boot", "enrolled-keys", "requires-smm"], variant: "4M" };
  const nvram = (k: number) => `/var/lib/libvirt/qemu/nvram/fleet-script-${k}_VARS.fd`;
  const xml = (k: number) =>
    renderDomain(resolve({ connection: {} as never, name: `fleet-script-${k}`, memoryMiB: 128, vcpus: 1, firmware, nvram: { path: nvram(k), variant: "4M" }, secureBoot: true, running: false }, th.domainType));
  const createScript = (ks: number[]) =>
    ks
      .map((k) =>
        [
          `t=$(mktemp ${nvram(k)}.XXXXXX)`,
          `cp -- ${firmware.varsTemplatePath} "$t" && sync -- "$t" && sha256sum -- "$t" >/dev/null && chmod 600 -- "$t" && mv -- "$t" ${nvram(k)}`,
          `printf '%s' '${xml(k).replace(/'/g, "'\\''")}' > /tmp/fleet-script-${k}.xml`,
          `virsh -q -c qemu:///system define /tmp/fleet-script-${k}.xml >/dev/null && rm -f /tmp/fleet-script-${k}.xml`,
          `virsh -q -c qemu:///system dumpxml fleet-script-${k} >/dev/null`,
          ...(running ? [`virsh -q -c qemu:///system start fleet-script-${k} >/dev/null`] : []),
        ].join("\n"),
      )
      .join("\n");
  const deleteScript = (ks: number[]) =>
    ks.map((k) => `${running ? `virsh -q -c qemu:///system destroy fleet-script-${k} >/dev/null; ` : ""}virsh -q -c qemu:///system undefine --nvram fleet-script-${k} >/dev/null`).join("\n");
  const each = (body: (ks: number[]) => string) =>
    Promise.all(
      on.map(async (h: { host: string; port: number; user: string; hostKey: string }, i: number) => {
        const r = await new Host({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey }).run(["bash", "-euc", body(byHost[i])]);
        if (r.code !== 0) throw new Error(`script failed on ${h.host}:${h.port}: ${r.stderr.toString()}`);
      }),
    );
  // What an interrupted earlier run left.
  await each(() => "for d in $(virsh -q -c qemu:///system list --all --name | grep '^fleet-script-' || true); do virsh -q -c qemu:///system destroy \"$d\" >/dev/null 2>&1 || true; virsh -q -c qemu:///system undefine --nvram \"$d\" >/dev/null; done");
  closeAll();
  const create = await timed(() => each(createScript), `script-${n}-${hosts} create`);
  const destroy = await timed(() => each(deleteScript), `script-${n}-${hosts} delete`);
  closeAll();
  return { create, destroy };
}

/** With PULUMI_OVMF_TRACE set: what the provider ran per phase, by command (count, total running time). */
function traceSummary(file: string | undefined, since: number, until: number): string {
  if (file === undefined || !existsSync(file)) return "";
  type Line = { at: number; pid: number; command?: string; operation?: string; runMs: number; queuedMs?: number };
  const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Line);
  const phase = lines.filter((l) => l.at >= since && l.at <= until);
  const commands = phase.filter((l) => l.command !== undefined);
  const by = new Map<string, { n: number; ms: number; queued: number }>();
  for (const l of commands) {
    const k = (l.command ?? "").split(" ").slice(0, 2).join(" ");
    const e = by.get(k) ?? { n: 0, ms: 0, queued: 0 };
    by.set(k, { n: e.n + 1, ms: e.ms + l.runMs, queued: e.queued + (l.queuedMs ?? 0) });
  }
  const ops = new Map<string, { n: number; ms: number }>();
  for (const l of phase.filter((x) => x.operation !== undefined)) {
    const e = ops.get(l.operation ?? "") ?? { n: 0, ms: 0 };
    ops.set(l.operation ?? "", { n: e.n + 1, ms: e.ms + l.runMs });
  }
  const pids = new Set(phase.map((l) => l.pid)).size;
  return (
    `${commands.length} remote commands from ${pids} provider process(es): ` +
    [...by].sort((x, y) => y[1].ms - x[1].ms).map(([k, v]) => `${k} ×${v.n} ${(v.ms / 1000).toFixed(1)} s run, ${(v.queued / 1000).toFixed(1)} s queued`).join("; ") +
    `\n  provider operations: ` +
    [...ops].sort((x, y) => y[1].ms - x[1].ms).map(([k, v]) => `${k} ×${v.n} ${(v.ms / 1000).toFixed(2)} s`).join("; ")
  );
}

// N:HOSTS, or N:HOSTS:running for VMs that are started (and must keep running) too; --runs R repeats
// each case R times (floor, provider and script in turn) and reports the median of every column.
const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt < 0 ? 3 : Number(args.splice(runsAt, 2)[1]);
// --replay-delay MS: the shape floor's resources wait MS before each create and delete (a
// provider with that latency and no work), to see what latency alone costs against the script.
const delayAt = args.indexOf("--replay-delay");
const replayDelayMs = delayAt < 0 ? 0 : Number(args.splice(delayAt, 2)[1]);
if (!Number.isFinite(replayDelayMs) || replayDelayMs < 0) throw new Error("--replay-delay takes milliseconds, 0 or more");
// --cpu: where the machine's CPU time went in each timed phase (perf, see bench/cpu.mts).
const cpuAt = args.indexOf("--cpu");
const cpu = cpuAt >= 0 && args.splice(cpuAt, 1).length === 1;
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number of 1 or more");
const cases = (args.length > 0 ? args : ["10:1", "30:2", "20:1:running"]).map((c) => {
  const [n, hosts, running] = c.split(":");
  return [Number(n), Number(hosts), running === "running"] as const;
});
if (cases.some(([, h]) => h > th.hosts.length)) throw new Error(`the test host has ${th.hosts.length} host(s): start it with scripts/testhost.sh start --hosts 2`);
await run("bash", [path.join(root, "scripts/install-project.sh"), project]);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

type Round = {
  runningAfterUp?: number;
  providerUp: number;
  engineFloorUp: number;
  providerWork: number;
  script: number;
  ratio: number;
  shapeFloorUp: number;
  ownWork: number;
  ownRatio: number;
  unchangedPreview: number;
  floorPreview: number;
  previewOverFloor: number;
  previewLogins: number;
  upLogins: number;
  destroy: number;
  floorDestroy: number;
  destroyWork: number;
  scriptDelete: number;
  destroyRatio: number;
  shapeFloorDestroy: number;
  ownDestroyWork: number;
  ownDestroyRatio: number;
  shapeFloorPreview: number;
};
const rows = [];
for (const [n, hosts, running] of cases) {
  const rounds: Round[] = [];
  for (let r = 0; r < runs; r++) {
    const floor = await cli("floor", n, hosts, running);
    const provider = await cli("provider", n, hosts, running);
    const replay = await cli("replay", n, hosts, running);
    const sh = await script(n, hosts, running);
    rounds.push({
      ...(provider.runningAfterUp === undefined ? {} : { runningAfterUp: provider.runningAfterUp }),
      providerUp: provider.create.s,
      engineFloorUp: floor.create.s,
      providerWork: provider.create.s - floor.create.s,
      script: sh.create.s,
      ratio: (provider.create.s - floor.create.s) / sh.create.s,
      shapeFloorUp: replay.create.s,
      ownWork: provider.create.s - replay.create.s,
      ownRatio: (provider.create.s - replay.create.s) / sh.create.s,
      unchangedPreview: provider.preview.s,
      floorPreview: floor.preview.s,
      previewOverFloor: provider.preview.s - floor.preview.s,
      previewLogins: provider.preview.logins,
      upLogins: provider.create.logins,
      destroy: provider.destroy.s,
      floorDestroy: floor.destroy.s,
      destroyWork: provider.destroy.s - floor.destroy.s,
      scriptDelete: sh.destroy.s,
      destroyRatio: (provider.destroy.s - floor.destroy.s) / sh.destroy.s,
      shapeFloorDestroy: replay.destroy.s,
      ownDestroyWork: provider.destroy.s - replay.destroy.s,
      ownDestroyRatio: (provider.destroy.s - replay.destroy.s) / sh.destroy.s,
      shapeFloorPreview: replay.preview.s,
    });
  }
  const col = (k: keyof Round) => median(rounds.map((x) => Number(x[k] ?? 0)));
  rows.push({
    n,
    hosts,
    running,
    runs,
    ...(running ? { runningAfterUp: Math.min(...rounds.map((x) => x.runningAfterUp ?? 0)) } : {}),
    providerUp: col("providerUp"),
    engineFloorUp: col("engineFloorUp"),
    providerWork: col("providerWork"),
    script: col("script"),
    ratio: col("ratio"),
    shapeFloorUp: col("shapeFloorUp"),
    ownWork: col("ownWork"),
    ownRatio: col("ownRatio"),
    shapeFloorPreview: col("shapeFloorPreview"),
    unchangedPreview: col("unchangedPreview"),
    floorPreview: col("floorPreview"),
    previewOverFloor: col("previewOverFloor"),
    // Logins are counts that must hold in every round: the largest seen.
    previewLogins: Math.max(...rounds.map((x) => x.previewLogins)),
    upLogins: Math.max(...rounds.map((x) => x.upLogins)),
    destroy: col("destroy"),
    floorDestroy: col("floorDestroy"),
    destroyWork: col("destroyWork"),
    scriptDelete: col("scriptDelete"),
    destroyRatio: col("destroyRatio"),
    shapeFloorDestroy: col("shapeFloorDestroy"),
    ownDestroyWork: col("ownDestroyWork"),
    ownDestroyRatio: col("ownDestroyRatio"),
    rounds,
  });
}

const f = (x: number) => `${x.toFixed(1)} s`;
const label = (r: { n: number; hosts: number; running: boolean; runningAfterUp?: number }) => `${r.n}, ${r.hosts} host${r.hosts > 1 ? "s" : ""}${r.running ? `, started (${r.runningAfterUp ?? 0} running after up)` : ""}`;
console.log(`Medians of ${runs} run(s); ratios are medians of each run's ratio; logins the most seen in a run.`);
console.log("Against the engine floor (the same graph, resources with one or two properties, no work):");
console.log("| N | provider `up` | engine floor | provider work | script | ratio | unchanged preview (floor) | SSH logins: up, preview | destroy | floor | destroy work | script delete | ratio |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${label(r)} | ${f(r.providerUp)} | ${f(r.engineFloorUp)} | ${f(r.providerWork)} | ${f(r.script)} | ${r.ratio.toFixed(1)}× | ${f(r.unchangedPreview)} (${f(r.floorPreview)}) | ${r.upLogins}, ${r.previewLogins} | ${f(r.destroy)} | ${f(r.floorDestroy)} | ${f(r.destroyWork)} | ${f(r.scriptDelete)} | ${r.destroyRatio.toFixed(1)}× |`,
  );
}
console.log(
  `Against the shape floor (the provider stack's own resources replayed: same types, inputs, outputs, secrets and dependencies, a provider that does nothing${replayDelayMs > 0 ? ` but wait ${replayDelayMs} ms in each create and delete` : ""}):`,
);
console.log("| N | provider `up` | shape floor | provider's own work | script | ratio | unchanged preview (shape floor) | destroy | shape floor | provider's own destroy work | script delete | ratio |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${label(r)} | ${f(r.providerUp)} | ${f(r.shapeFloorUp)} | ${f(r.ownWork)} | ${f(r.script)} | ${r.ownRatio.toFixed(1)}× | ${f(r.unchangedPreview)} (${f(r.shapeFloorPreview)}) | ${f(r.destroy)} | ${f(r.shapeFloorDestroy)} | ${f(r.ownDestroyWork)} | ${f(r.scriptDelete)} | ${r.ownDestroyRatio.toFixed(1)}× |`,
  );
}
console.log(JSON.stringify({ fleet: rows }));
