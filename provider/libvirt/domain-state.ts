/** A domain's state as `virsh domstate` prints it. */
export type DomainState = "running" | "paused" | "shut off" | "shutdown" | "crashed" | "pmsuspended" | "idle" | "in shutdown" | "blocked" | "no state";

/** A domain's state and libvirt's reason for it, as `virsh domstate --reason` prints them. */
export interface StateWithReason {
  state: DomainState;
  /**
   * Why, in libvirt's words: `booted`, `unpaused`, `unknown` (QEMU stopped the guest by itself, as
   * after a KVM internal error), `crashed` (QEMU exited), `panicked`, `ioerror`, `destroyed`, ...
   */
  reason: string;
}

/** Parses `virsh domstate --reason` output, e.g. "paused (unknown)". Pure. */
export function parseStateWithReason(out: string): StateWithReason {
  const line = out.trim();
  const m = /^(.*?)\s*\(([^()]*)\)$/.exec(line);
  if (m === null) return { state: line as DomainState, reason: "" };
  return { state: (m[1] ?? "") as DomainState, reason: m[2] ?? "" };
}

/** "paused (unknown)": the state as virsh prints it, for messages. Pure. */
export function describeState(s: StateWithReason): string {
  return s.reason === "" ? s.state : `${s.state} (${s.reason})`;
}
