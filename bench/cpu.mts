/**
 * `--cpu` for the benchmarks: where the machine's CPU time went during one timed phase, sampled for
 * every process by `perf record -a -e cpu-clock` and summed by process name, in groups: the Pulumi
 * engine, Node (the program and the dynamic provider), sshd, virsh, libvirtd, other processes on the
 * host (the shells and tools remote commands run) and idle. Needs perf and root; a measurement aid only.
 */
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";

const GROUPS: Array<[string, RegExp]> = [
  ["idle", /^swapper/],
  ["engine", /^pulumi$/],
  ["language host", /^pulumi-language/],
  ["node", /^(node|npm.*|libuv-worker|V8 .*|DelayedTaskSche|PerfettoTrace|DefaultWorker)$/],
  ["sshd", /^sshd/],
  ["virsh", /^virsh$/],
  ["libvirtd", /^(libvirtd|virtqemud|.*rpc-.*|daemon-init|event|qemu-event|udev-event|vir.*)$/],
  ["perf", /^perf/],
];

/** CPU seconds by process name in `perf script -F comm,pid,period` output (cpu-clock periods are ns). Pure. */
export function secondsByName(text: string): Map<string, number> {
  const by = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^\s*(.*?)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (m === null) continue;
    const name = m[1] ?? "";
    by.set(name, (by.get(name) ?? 0) + Number(m[3]) / 1e9);
  }
  return by;
}

function cpuByName(file: string): Map<string, number> {
  const out = spawnSync("perf", ["script", "-i", file, "-F", "comm,pid,period"], { encoding: "utf8", maxBuffer: 1 << 30 });
  return secondsByName(out.stdout);
}

/** The per-name seconds in the groups above; the rest as "other", with its three largest names. Pure. */
export function grouped(by: Map<string, number>): string {
  const sums = new Map<string, number>();
  const other: Array<[string, number]> = [];
  for (const [name, s] of by) {
    const g = GROUPS.find(([, re]) => re.test(name))?.[0];
    if (g === undefined) other.push([name, s]);
    else sums.set(g, (sums.get(g) ?? 0) + s);
  }
  const rest = other.reduce((t, [, s]) => t + s, 0);
  const top = other.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(", ");
  const busy = [...sums].filter(([g]) => g !== "idle" && g !== "perf").reduce((t, [, s]) => t + s, 0) + rest;
  const order = ["engine", "node", "language host", "sshd", "virsh", "libvirtd"];
  return (
    `CPU busy ${busy.toFixed(2)} s, idle ${(sums.get("idle") ?? 0).toFixed(2)} s: ` +
    order.map((g) => `${g} ${(sums.get(g) ?? 0).toFixed(2)}`).join(", ") +
    `, other ${rest.toFixed(2)} (${top})`
  );
}

/** Runs `f` while perf samples every CPU; prints the grouped CPU time under `label`. */
export async function withCpu<T>(label: string, file: string, f: () => Promise<T>): Promise<T> {
  if (spawnSync("perf", ["--version"]).status !== 0) throw new Error("--cpu needs perf, run as root (Debian: apt-get install linux-perf)");
  const rec = spawn("perf", ["record", "-q", "-e", "cpu-clock", "-a", "-o", file], { stdio: "ignore" });
  const closed = new Promise((ok) => rec.on("close", ok));
  await new Promise((ok) => setTimeout(ok, 500));
  try {
    return await f();
  } finally {
    rec.kill("SIGINT");
    await closed;
    console.log(`${label}: ${grouped(cpuByName(file))}`);
    rmSync(file, { force: true });
  }
}
