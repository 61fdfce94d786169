/**
 * Fault injection, for the fault harness (`npm run bench -- faults`) and its smoke test only:
 * PULUMI_OVMF_FAULT=<k>[:<ms>] makes this provider process cut its SSH connection (the socket, as a
 * network failure does) <ms> (default 0) after the host accepted its k-th remote command. That
 * command may finish on the host or be cut off there; its result is lost, and every other command
 * in flight on the connection fails too. Nothing happens unless the variable is set.
 */
const KEY = Symbol.for("pulumi-ovmf.fault-count");

/** The delay before the cut when this command is the one to cut, else undefined. Counts commands. */
export function faultDelayMs(): number | undefined {
  const spec = process.env["PULUMI_OVMF_FAULT"];
  if (spec === undefined || spec === "") return undefined;
  const [k, ms] = spec.split(":").map(Number);
  const g = globalThis as { [KEY]?: number };
  g[KEY] = (g[KEY] ?? 0) + 1;
  return g[KEY] === k ? (Number.isFinite(ms) ? (ms ?? 0) : 0) : undefined;
}
