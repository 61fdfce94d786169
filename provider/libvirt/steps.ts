import type { Host } from "../host/host.js";
import { classifyVirshError, DOMAIN_NOT_FOUND, type VirshError } from "./errors.js";

// Steps of one remote command report which step failed by a last stderr line \037STEP (a control
// character no virsh message holds), so that the error names the virsh operation as before.
export const STEP_MARK = new RegExp(`${String.fromCharCode(0x1f)}(\\w+)\\n?$`);
export const STEP_HELPERS = `at() { c=$?; printf '\\037%s\\n' "$1" >&2; exit "$c"; }
# s=the state of $name; returns 1 when there is no such domain, stops at any other failure.
state_of() {
  s=$(virsh -q -c "$uri" domstate -- "$name" 2>&1) && return 0
  case $s in ${DOMAIN_NOT_FOUND.map((t) => `*"${t}"*`).join("|")}) return 1;; esac
  printf '%s\\n' "$s" >&2; false || at domstate
}`;

/**
 * A shell `case` pattern of the domain names virsh's own command line (a batch of commands in one
 * virsh process) would need quoting for; names outside it go into a batch as they are.
 */
export const NEEDS_QUOTING_IN_BATCH = `""|-*|*[!A-Za-z0-9._:+@-]*`;

/** The names {@link NEEDS_QUOTING_IN_BATCH} lets into a batch as they are, as a test in TypeScript. */
export const fitsBatch = (name: string): boolean => /^[A-Za-z0-9._:+@][A-Za-z0-9._:+@-]*$/.test(name);

/** A step of a multi-step remote command failed: the error of that virsh operation. */
export function stepError(host: Host, r: { code: number | null; stderr: string }, domain: string, first: string): VirshError {
  // Without a mark the shell itself failed before any step: named after the command's first step.
  const step = STEP_MARK.exec(r.stderr)?.[1] ?? first;
  return classifyVirshError({ target: host.target, operation: step === "state" ? "domstate" : step, code: r.code, stderr: r.stderr.replace(STEP_MARK, ""), domain });
}
