/**
 * Live host move benchmark: the host-move example's running Secure Boot VM (256 MiB, TCG on machines
 * without usable KVM) moved live between test hosts a and b, M times, with the real Pulumi CLI.
 * Prints, per move, the guest's pause at the switch-over (the destination QEMU's "Total downtime",
 * as the provider reports it), the migration's own time and the whole `pulumi up`; then min, median
 * and max, and JSON. Asserts nothing but that every move was live (no reboot). Run with the test host
 * up (two hosts) and the package built:
 *   node bench/live-move.mts [--moves M]     (default 6)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Host } from "../dist/provider/host/host.js";
import { closeAll } from "../dist/provider/ssh/pool.js";

const root = path.resolve(import.meta.dirname, "..");
const project = path.join(root, "examples/host-move");
const stack = "bench-live";
const at = process.argv.indexOf("--moves");
const moves = at < 0 ? 6 : Number(process.argv[at + 1]);
if (!Number.isInteger(moves) || moves < 1) throw new Error("--moves takes a whole number of 1 or more");
const th = JSON.parse(readFileSync(process.env["PULUMI_OVMF_TESTHOST"] ?? path.join(root, ".testhost/testhost.json"), "utf8"));
if (th.hosts.length < 2) throw new Error("the test host has one host: start it with scripts/testhost.sh start --hosts 2");
const privateKey = readFileSync(th.privateKeyPath, "utf8");
const host = (name: string) => {
  const h = th.hosts.find((x: { name: string }) => x.name === name);
  return new Host({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey });
};

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(" ")} failed:\n${out.slice(-3000)}`))));
  });
}

// The stack's connection settings and the CLI's environment, as the example's README sets them up.
const shellEnv = await run("bash", ["-c", 'eval "$(bash "$0" "$1" "$2")" && echo "@@env" && env', path.join(root, "scripts/testhost-stack.sh"), project, stack]);
const env: NodeJS.ProcessEnv = { ...process.env };
for (const line of shellEnv.slice(shellEnv.indexOf("@@env\n") + 6).split("\n")) {
  const m = /^(PATH|PULUMI_\w+)=(.*)$/.exec(line);
  if (m?.[1] !== undefined) env[m[1]] = m[2] ?? "";
}
const pulumi = (...args: string[]) => run("pulumi", [...args, "--non-interactive", "--color", "never", "--stack", stack], env);

await pulumi("destroy", "--yes").catch(() => undefined);
await pulumi("config", "set", "hostMove", "live");
await pulumi("config", "set", "on", "a");
await pulumi("up", "--yes", "--skip-preview");

const rows: Array<{ to: string; downtimeMs: number; migrationMs: number; upMs: number; reason: string }> = [];
try {
  for (let i = 0; i < moves; i++) {
    const to = i % 2 === 0 ? "b" : "a";
    await pulumi("config", "set", "on", to);
    const t0 = performance.now();
    const out = await pulumi("up", "--yes", "--skip-preview");
    const upMs = performance.now() - t0;
    const m = /moved live from \S+ to \S+: paused (\d+) ms for the switch-over, ([\d.]+) s in all/.exec(out);
    if (m === null) throw new Error(`move ${i + 1} to ${to} did not report a live move:\n${out.slice(-2000)}`);
    const reason = (await host(to).run(["env", "LC_ALL=C", "virsh", "-c", "qemu:///system", "domstate", "--reason", "mover"])).stdout.trim();
    rows.push({ to, downtimeMs: Number(m[1]), migrationMs: Number(m[2]) * 1000, upMs, reason });
    console.log(`move ${i + 1} to ${to}: paused ${m[1]} ms, migration ${m[2]} s, pulumi up ${(upMs / 1000).toFixed(1)} s, ${reason}`);
    if (reason !== "running (migrated)") throw new Error(`the VM on ${to} is ${reason}, not running (migrated): it was not moved live`);
  }
} finally {
  await pulumi("destroy", "--yes", "--remove").catch((e: Error) => console.error(e.message));
  closeAll();
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { min: s[0] ?? 0, median: s[Math.floor((s.length - 1) / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
};
const down = stats(rows.map((r) => r.downtimeMs));
const mig = stats(rows.map((r) => r.migrationMs));
const up = stats(rows.map((r) => r.upMs));
console.log(`| moves | pause (min / median / max) | migration | pulumi up |`);
console.log(`|---|---|---|---|`);
console.log(`| ${rows.length} | ${down.min} / ${down.median} / ${down.max} ms | ${(mig.median / 1000).toFixed(1)} s median | ${(up.median / 1000).toFixed(1)} s median |`);
console.log(JSON.stringify({ liveMove: { moves: rows.length, downtimeMs: down, migrationMs: mig, upMs: up, rows } }));
