import { appendFileSync } from "node:fs";

/**
 * Where the remote commands go, for finding where an operation's time goes: with
 * PULUMI_OVMF_TRACE=<file>, every remote command appends one JSON line (process, target, the
 * command's first words, time queued for a channel, time running). Never the command's input or
 * output, so nothing secret. Off (a no-op) by default.
 */
export function traceCommand(target: string, argv: readonly string[], queuedMs: number, runMs: number, code: number | null): void {
  const file = process.env["PULUMI_OVMF_TRACE"];
  if (file === undefined || file === "") return;
  const command = argv.slice(0, 3).join(" ").replace(/\s+/g, " ").slice(0, 60);
  append(file, { target, command, queuedMs: Math.round(queuedMs), runMs: Math.round(runMs), code });
}

/** One JSON line with the process and the time; tracing never fails an operation. */
function append(file: string, record: Record<string, unknown>): void {
  try {
    appendFileSync(file, `${JSON.stringify({ pid: process.pid, at: Date.now(), ...record })}\n`);
  } catch {
    // Tracing never fails an operation.
  }
}

/**
 * `provider` with each operation (check, diff, create, ...) traced like a remote command: one JSON
 * line with the resource kind, the operation and its duration (never inputs or outputs). The same
 * object when tracing is off.
 */
export function traced<P extends object>(kind: string, provider: P): P {
  const file = process.env["PULUMI_OVMF_TRACE"];
  if (file === undefined || file === "") return provider;
  const wrapped: Record<string, unknown> = {};
  for (const [op, f] of Object.entries(provider)) {
    if (typeof f !== "function") continue;
    wrapped[op] = async (...args: unknown[]) => {
      const started = performance.now();
      let code = 0;
      try {
        return await (f as (...a: unknown[]) => unknown).apply(provider, args);
      } catch (e) {
        code = 1;
        throw e;
      } finally {
        append(file, { operation: `${kind}.${op}`, runMs: Math.round(performance.now() - started), code });
      }
    };
  }
  return wrapped as P;
}
