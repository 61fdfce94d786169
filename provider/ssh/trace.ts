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
  try {
    appendFileSync(file, `${JSON.stringify({ pid: process.pid, at: Date.now(), target, command, queuedMs: Math.round(queuedMs), runMs: Math.round(runMs), code })}\n`);
  } catch {
    // Tracing never fails an operation.
  }
}
