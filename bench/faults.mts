/**
 * Fault harness: a Secure Boot VM with an NVRAM file and a TPM state (bench/projects/faults) is
 * created, updated with a restart, renamed, moved to the other host (cold, and live while it runs)
 * and deleted by the real Pulumi
 * CLI, with the provider's SSH connection cut (PULUMI_OVMF_FAULT=k, provider/ssh/fault.ts) after
 * its k-th remote command, for every k the operation runs. After each cut a plain `pulumi up` (and,
 * only when that fails, `pulumi up --refresh`) must converge:
 *   - the declared VM exists once, on its host, in its power state; no other domain of the harness;
 *   - its NVRAM file and TPM state are on that host only, no temp file or state directory is left;
 *   - the NVRAM bytes (and the TPM's permall) equal those before the operation (or, at create, the
 *     template's), and the TPM keeps its UUID;
 *   - `pulumi preview --expect-no-changes` passes.
 * Prints one line per injection point, then the counts. Exits non-zero on any failure.
 *   node bench/faults.mts [create|restart|rename|move|live|delete ...] [--at 1,-1,longest]   (default: all, every k)
 * --at picks injection points: k, -k (counted from the last command) or `longest` (the command that
 * ran longest without a fault, e.g. a live move's migration).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { Host } from "../dist/provider/host/host.js";
import { closeAll } from "../dist/provider/ssh/pool.js";

const root = path.resolve(import.meta.dirname, "..");
const project = path.join(root, "bench/projects/faults");
const th = JSON.parse(readFileSync(process.env["PULUMI_OVMF_TESTHOST"] ?? path.join(root, ".testhost/testhost.json"), "utf8"));
if (th.hosts.length < 2) throw new Error("the fault harness needs test hosts a and b: scripts/testhost.sh start --hosts 2");
const privateKey = readFileSync(th.privateKeyPath, "utf8");
const hostsJson = JSON.stringify(th.hosts.map(({ privateKeyPath: _k, ...h }: Record<string, unknown>) => h));
const stateDir = path.join(project, ".pulumi-state");
mkdirSync(stateDir, { recursive: true });
const traceFile = path.join(stateDir, "trace.jsonl");
const env = { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "pulumi-ovmf-local-test-stacks", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true" };
const STACK = "faults";
const hosts: Record<string, Host> = Object.fromEntries(
  th.hosts.slice(0, 2).map((h: { name: string; host: string; port: number; user: string; hostKey: string }) => [h.name, new Host({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey })]),
);

function run(cmd: string, args: string[], extra: Record<string, string> = {}, stdin = ""): Promise<{ ok: boolean; out: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: project, env: { ...env, ...extra }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.stdin.end(stdin);
    child.on("close", (code) => done({ ok: code === 0, out }));
  });
}
async function pulumi(args: string[], extra: Record<string, string> = {}): Promise<{ ok: boolean; out: string }> {
  return run("pulumi", [...args, "--non-interactive", "--color", "never", "--stack", STACK], extra);
}
async function must(args: string[]): Promise<string> {
  const r = await pulumi(args);
  if (!r.ok) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.out.slice(-3000)}`);
  return r.out;
}

/** A declared VM (or none). */
interface Declared {
  present: boolean;
  host: "a" | "b";
  name: string;
  memoryMiB: number;
  running: boolean;
  hostMove: "cold" | "live";
}
const base: Declared = { present: true, host: "a", name: "ovmf-fault-1", memoryMiB: 128, running: false, hostMove: "cold" };
const none: Declared = { ...base, present: false };
/** Each operation: from where, to what, and whether the VM's NVRAM/TPM bytes must be carried unchanged. */
const OPS: Record<string, { from: Declared; to: Declared; carried: boolean }> = {
  create: { from: none, to: base, carried: false },
  restart: { from: { ...base, running: true }, to: { ...base, running: true, memoryMiB: 160 }, carried: false },
  rename: { from: base, to: { ...base, name: "ovmf-fault-2" }, carried: true },
  move: { from: base, to: { ...base, host: "b" }, carried: true },
  // A running VM migrated (hostMove live): OVMF may still write its variables while it boots, so the
  // bytes are not compared; that the VM ends running once, on b, with its UUID, and nothing on a, is.
  live: { from: { ...base, running: true, hostMove: "live" }, to: { ...base, host: "b", running: true, hostMove: "live" }, carried: false },
  delete: { from: base, to: none, carried: false },
};

async function declare(d: Declared): Promise<void> {
  await must(["config", "set-all", "--plaintext", `hosts=${hostsJson}`, "--plaintext", `present=${d.present}`, "--plaintext", `host=${d.host}`, "--plaintext", `name=${d.name}`, "--plaintext", `memoryMiB=${d.memoryMiB}`, "--plaintext", `running=${d.running}`, "--plaintext", `hostMove=${d.hostMove}`]);
}
const up = (extra: Record<string, string> = {}, refresh = false) => pulumi(["up", "--yes", "--skip-preview", ...(refresh ? ["--refresh"] : [])], extra);

/** What the harness finds on both hosts: its domains, NVRAM files (temp files too) and TPM states. */
interface Found {
  domains: Record<string, string[]>;
  states: Record<string, string[]>;
  nvram: Record<string, string[]>;
  swtpm: Record<string, string[]>;
  sha: Record<string, string>;
  /** NVRAM files the harness's running QEMUs still write although they were replaced or removed on disk. */
  deletedNvramOpen: string[];
}
const SEEN_UUIDS = new Set<string>();
/** The list kept under `key`, created empty on first use. */
function list(rec: Record<string, string[]>, key: string): string[] {
  return (rec[key] ??= []);
}
async function observe(): Promise<Found> {
  const f: Found = { domains: {}, states: {}, nvram: {}, swtpm: {}, sha: {}, deletedNvramOpen: [] };
  // The hosts share this machine's processes: one look at every QEMU of the harness is enough.
  const open = await (hosts["a"] as Host).run(["sh", "-c", `for p in $(pgrep -f 'guest=ovmf-fault-' || true); do ls -l /proc/$p/fd 2>/dev/null | grep -o '/[^ ]*_VARS[.]fd (deleted)'; done; true`]);
  f.deletedNvramOpen = open.stdout.split("\n").filter((l) => l !== "");
  for (const [name, h] of Object.entries(hosts)) {
    const r = await h.run([
      "sh",
      "-c",
      `for d in $(virsh -q -c qemu:///system list --all --name | grep '^ovmf-fault-'); do printf 'D %s %s\\n' "$d" "$(virsh -q -c qemu:///system domstate -- "$d" | tr ' ' _)"; done
cd /var/lib/libvirt/qemu/nvram && for n in $(ls -A | grep 'ovmf-fault-'); do printf 'N %s %s\\n' "$n" "$(sha256sum < "$n" | cut -c1-64)"; done
cd /var/lib/libvirt/swtpm 2>/dev/null && for s in $(ls -A); do printf 'T %s %s\\n' "$s" "$(cat "$s"/tpm2/tpm2-00.permall 2>/dev/null | sha256sum | cut -c1-64)"; done; true`,
    ]);
    for (const line of r.stdout.split("\n")) {
      const [kind, what = "", extra = ""] = line.split(" ");
      if (kind === "D") {
        list(f.domains, name).push(what);
        list(f.states, name).push(extra.replace(/_/g, " "));
      }
      if (kind === "N") {
        list(f.nvram, name).push(what);
        f.sha[`${name}:nvram:${what}`] = extra;
      }
      // Only the harness's TPM states (UUIDs it has seen) and temp entries are its business.
      if (kind === "T" && (SEEN_UUIDS.has(what) || what.startsWith("."))) {
        list(f.swtpm, name).push(what);
        f.sha[`${name}:tpm:${what}`] = extra;
      }
    }
  }
  return f;
}

async function outputs(): Promise<{ nvramPath?: string; uuid?: string }> {
  return JSON.parse(await must(["stack", "output", "--json", "--show-secrets"])) as { nvramPath?: string; uuid?: string };
}

/** What must hold after convergence; empty when all does. */
function problems(d: Declared, f: Found, outs: { nvramPath?: string; uuid?: string }, expect: { nvramSha?: string; tpmSha?: string; uuid?: string }): string[] {
  const p: string[] = [];
  const other = d.host === "a" ? "b" : "a";
  if (f.deletedNvramOpen.length > 0) p.push(`a running guest writes to an NVRAM file that was replaced or removed under it: ${f.deletedNvramOpen.join(", ")}`);
  const nvramFile = outs.nvramPath === undefined ? undefined : path.posix.basename(outs.nvramPath);
  if (!d.present) {
    for (const h of ["a", "b"]) {
      if (list(f.domains, h).length > 0) p.push(`domains left on ${h}: ${list(f.domains, h).join(", ")}`);
      if (list(f.nvram, h).length > 0) p.push(`NVRAM files left on ${h}: ${list(f.nvram, h).join(", ")}`);
      if (list(f.swtpm, h).length > 0) p.push(`TPM states left on ${h}: ${list(f.swtpm, h).join(", ")}`);
    }
    return p;
  }
  if (JSON.stringify(f.domains[d.host]) !== JSON.stringify([d.name])) p.push(`domains on ${d.host}: [${list(f.domains, d.host).join(", ")}], want [${d.name}]`);
  if (list(f.domains, other).length > 0) p.push(`domains left on ${other}: ${list(f.domains, other).join(", ")}`);
  const want = d.running ? "running" : "shut off";
  if (list(f.states, d.host)[0] !== undefined && list(f.states, d.host)[0] !== want) p.push(`${d.name} is ${list(f.states, d.host)[0]}, want ${want}`);
  // The file and its owner mark beside it (see provider/nvram/ownership.ts), nothing else.
  const nvramFiles = nvramFile === undefined ? [] : [nvramFile, `${nvramFile}.pulumi-ovmf-owner`];
  if (JSON.stringify([...list(f.nvram, d.host)].sort()) !== JSON.stringify(nvramFiles)) p.push(`NVRAM files on ${d.host}: [${list(f.nvram, d.host).join(", ")}], want [${nvramFiles.join(", ")}]`);
  if (list(f.nvram, other).length > 0) p.push(`NVRAM files left on ${other}: ${list(f.nvram, other).join(", ")}`);
  if (expect.uuid !== undefined && outs.uuid !== expect.uuid) p.push(`the VM's UUID (its TPM) changed: ${expect.uuid} -> ${outs.uuid}`);
  if (JSON.stringify(f.swtpm[d.host]) !== JSON.stringify([outs.uuid])) p.push(`TPM states on ${d.host}: [${list(f.swtpm, d.host).join(", ")}], want [${outs.uuid}]`);
  if (list(f.swtpm, other).length > 0) p.push(`TPM states left on ${other}: ${list(f.swtpm, other).join(", ")}`);
  const nvramSha = f.sha[`${d.host}:nvram:${nvramFile}`];
  if (expect.nvramSha !== undefined && nvramSha !== expect.nvramSha) p.push(`NVRAM bytes changed: sha256 ${expect.nvramSha.slice(0, 12)} -> ${(nvramSha ?? "(none)").slice(0, 12)}`);
  const tpmSha = f.sha[`${d.host}:tpm:${outs.uuid}`];
  if (expect.tpmSha !== undefined && tpmSha !== expect.tpmSha) p.push(`TPM permall changed: sha256 ${expect.tpmSha.slice(0, 12)} -> ${(tpmSha ?? "(none)").slice(0, 12)}`);
  return p;
}

/** Reaches `d` without faults (the starting point of an injection). */
async function settle(d: Declared): Promise<void> {
  await declare(d);
  let r = await up();
  if (!r.ok) r = await up({}, true);
  if (!r.ok) throw new Error(`cannot reach the starting point ${JSON.stringify(d)}:\n${r.out.slice(-3000)}`);
  const outs = await outputs();
  if (outs.uuid !== undefined) SEEN_UUIDS.add(outs.uuid);
}

/** Remote commands one run of `op` performs (counted from the trace; runs vary a little). */
async function countCommands(op: string): Promise<number> {
  const { from, to } = OPS[op] ?? OPS["create"] as (typeof OPS)[string];
  await settle(from);
  rmSync(traceFile, { force: true });
  await declare(to);
  const r = await up({ PULUMI_OVMF_TRACE: traceFile });
  if (!r.ok) throw new Error(`${op} fails without a fault:\n${r.out.slice(-3000)}`);
  const lines = existsSync(traceFile) ? readFileSync(traceFile, "utf8").split("\n").filter((l) => l.includes('"command"')) : [];
  rmSync(traceFile, { force: true });
  // Each command's first words and time, in the order the host accepted them (printed beside each cut).
  commandsOf.set(op, lines.map((l) => JSON.parse(l) as { command: string; runMs: number }).map((c) => ({ name: c.command.replace(/\s+/g, " ").slice(0, 48), runMs: c.runMs })));
  return lines.length;
}
const commandsOf = new Map<string, Array<{ name: string; runMs: number }>>();

const TEMPLATE = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

interface Result {
  op: string;
  k: number;
  cutFailedUp: boolean;
  converged: "up" | "up --refresh" | "no";
  problems: string[];
}

async function inject(op: string, k: number): Promise<Result> {
  const { from, to, carried } = OPS[op] ?? OPS["create"] as (typeof OPS)[string];
  await settle(from);
  const before = await observe();
  const outsBefore = await outputs();
  const host = from.host;
  const file = outsBefore.nvramPath === undefined ? undefined : path.posix.basename(outsBefore.nvramPath);
  const expect = {
    ...(carried && file !== undefined ? { nvramSha: before.sha[`${host}:nvram:${file}`] } : {}),
    ...(carried && outsBefore.uuid !== undefined ? { tpmSha: before.sha[`${host}:tpm:${outsBefore.uuid}`] } : {}),
    ...(op === "create" ? { nvramSha: (await (hosts[to.host] as Host).check(["sha256sum", "--", TEMPLATE], "template")).stdout.slice(0, 64) } : {}),
    ...(outsBefore.uuid !== undefined && to.present ? { uuid: outsBefore.uuid } : {}),
  };
  await declare(to);
  const cut = await up({ PULUMI_OVMF_FAULT: String(k) });
  let converged: Result["converged"] = "no";
  let r = await up();
  if (r.ok) converged = "up";
  else {
    r = await up({}, true);
    if (r.ok) converged = "up --refresh";
  }
  const p: string[] = [];
  if (converged === "no") p.push(`did not converge: ${r.out.split("\n").filter((l) => /error|failed/i.test(l)).slice(-4).join(" | ")}`);
  else {
    const outs = await outputs();
    if (outs.uuid !== undefined) SEEN_UUIDS.add(outs.uuid);
    p.push(...problems(to, await observe(), outs, expect));
    const preview = await pulumi(["preview", "--expect-no-changes"]);
    if (!preview.ok) p.push(`preview after convergence shows changes: ${preview.out.split("\n").filter((l) => /^\s+[~+-]/.test(l)).join(" | ").slice(0, 300)}`);
  }
  return { op, k, cutFailedUp: !cut.ok, converged, problems: p };
}

const args = process.argv.slice(2);
const atFlag = args.indexOf("--at");
// --at 1,-1,longest: only these injection points (negative: counted from the last command;
// longest: the command that ran longest without a fault).
const at = atFlag >= 0 ? (args[atFlag + 1] ?? "").split(",").filter((x) => x !== "") : undefined;
/** The 1-based injection points `at` names among an operation's commands (all of them without --at). */
function pointsOf(commands: ReadonlyArray<{ runMs: number }>): number[] {
  const n = commands.length;
  if (at === undefined) return Array.from({ length: n }, (_, i) => i + 1);
  const times = commands.map((c) => c.runMs);
  const ks = at.map((x) => {
    if (x === "longest") return times.indexOf(Math.max(...times)) + 1;
    if (!/^-?\d+$/.test(x)) throw new Error(`--at ${x}: give k, -k or longest`);
    return Number(x) < 0 ? n + 1 + Number(x) : Number(x);
  });
  return [...new Set(ks.filter((k) => k >= 1 && k <= n))];
}
const chosen = args.filter((a, i) => !a.startsWith("--") && (atFlag < 0 || i !== atFlag + 1));
const ops = chosen.length > 0 ? chosen : Object.keys(OPS);
for (const op of ops) if (OPS[op] === undefined) throw new Error(`unknown operation ${op} (there are: ${Object.keys(OPS).join(", ")})`);

if (process.env["FAULTS_NO_INSTALL"] === undefined) await run("bash", [path.join(root, "scripts/install-project.sh"), project]);
await pulumi(["stack", "select", "--create"]);
await declare(none);
await run("pulumi", ["config", "set", "--secret", "privateKey", "--non-interactive", "--stack", STACK], {}, privateKey);

const results: Result[] = [];
const started = performance.now();
try {
  for (const op of ops) {
    const n = await countCommands(op);
    console.log(`${op}: ${n} remote commands without a fault`);
    const commands = commandsOf.get(op) ?? [];
    const points = pointsOf(commands);
    for (const k of points) {
      const r = await inject(op, k);
      results.push(r);
      console.log(`${op} cut after command ${k}/${n} (${commands[k - 1]?.name ?? "?"}, ${commands[k - 1]?.runMs ?? "?"} ms without a fault): ${r.cutFailedUp ? "up failed" : "up succeeded anyway"}; converged by ${r.converged}${r.problems.length === 0 ? "; all checks pass" : `; PROBLEMS: ${r.problems.join("; ")}`}`);
    }
  }
} finally {
  // FAULTS_KEEP leaves the last state on the hosts, to look at.
  if (process.env["FAULTS_KEEP"] === undefined) {
    await declare(none);
    await up();
  }
  closeAll();
}
const failed = results.filter((r) => r.problems.length > 0);
console.log(
  `injection points: ${results.length}; converged with plain up: ${results.filter((r) => r.converged === "up").length}; with up --refresh: ${results.filter((r) => r.converged === "up --refresh").length}; ` +
    `passed: ${results.length - failed.length}; failed: ${failed.length}; ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
console.log(JSON.stringify({ faults: { points: results.length, passed: results.length - failed.length, failed: failed.map((r) => ({ op: r.op, k: r.k, problems: r.problems })) } }));
if (failed.length > 0) process.exitCode = 1;
