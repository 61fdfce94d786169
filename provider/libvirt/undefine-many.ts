import { randomBytes } from "node:crypto";
import type { Host } from "../host/host.js";
import { batchWhileBusy, FLEET_BURST } from "../coalesce.js";
import type { DomainState } from "./domain-state.js";
import { fitsBatch } from "./steps.js";
import * as virsh from "./virsh.js";

// The domain undefines of one `pulumi destroy` that reach a host together go as a batch: the states
// of all of them in ONE virsh process, then the ones that are off undefined in ONE more (keeping
// NVRAM and TPM state), instead of a remote command with two virsh processes each. Whatever the
// batch does not settle plainly (a name virsh would need quoting for, a domain not found, an
// undefine that did not take, a batch that failed as a whole) goes the one-domain way,
// {@link virsh.undefineIfOffByProcess}, which reports it exactly as before. A lone delete goes that way too.

export type UndefineResult = Awaited<ReturnType<typeof virsh.undefineIfOff>>;

/** Each named domain's state as the states batch printed it (no entry: not found or failed). Pure. */
export function parseStates(out: string, nonce: string): Map<string, DomainState> {
  const states = new Map<string, DomainState>();
  // virsh's echo ends without a newline in a batch; the state comes as virsh prints it.
  for (const rec of out.split(`${nonce}-S `).slice(1)) {
    const m = /^(\S+) (\S+)-N([\s\S]*?)\2-E/.exec(rec);
    const state = (m?.[3] ?? "").trim();
    if (m?.[1] !== undefined && m[2] === nonce && state !== "") states.set(m[1], state as DomainState);
  }
  return states;
}

/** The domain names the listing after the undefines printed (after its mark). Pure. */
export function parseRemaining(out: string, nonce: string): Set<string> {
  const at = out.indexOf(`${nonce}-L`);
  if (at < 0) return new Set();
  return new Set(
    out
      .slice(at + `${nonce}-L`.length)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== ""),
  );
}

const batchArgv = (batch: string) => ["env", "LC_ALL=C", "virsh", "-q", "-c", virsh.LIBVIRT_URI, batch];

async function undefineMany(items: Array<{ host: Host; domain: string }>): Promise<UndefineResult[]> {
  const host = items[0]?.host;
  const inBatch = [...new Set(items.map((i) => i.domain).filter(fitsBatch))];
  if (host === undefined || inBatch.length < 2) return Promise.all(items.map((i) => virsh.undefineIfOffByProcess(i.host, i.domain)));
  const settled = new Map<string, UndefineResult>();
  const n = `pulumi-ovmf-${randomBytes(12).toString("hex")}`;
  const read = await host.run(batchArgv(inBatch.map((d) => `echo ${n}-S ${d} ${n}-N; domstate -- ${d}; echo ${n}-E;`).join(" ")));
  const states = read.code === 0 ? parseStates(read.stdout, n) : new Map<string, DomainState>();
  for (const [d, state] of states) if (state !== "shut off") settled.set(d, { state });
  const off = inBatch.filter((d) => states.get(d) === "shut off");
  if (off.length > 0) {
    const done = await host.run(batchArgv(`${off.map((d) => `undefine --keep-nvram --keep-tpm -- ${d};`).join(" ")} echo ${n}-L; list --all --name`));
    if (done.code === 0 && done.stdout.includes(`${n}-L`)) {
      const remaining = parseRemaining(done.stdout, n);
      for (const d of off) if (!remaining.has(d)) settled.set(d, "undefined");
    }
  }
  // Each caller gets its own answer: settled by the batch, or the one-domain way.
  return Promise.all(items.map((i) => settled.get(i.domain) ?? virsh.undefineIfOffByProcess(i.host, i.domain)));
}

/**
 * Undefines `domain` when it is off, as {@link virsh.undefineIfOff} does, sharing the remote work
 * with the other undefines that reach the same host while one runs.
 */
export const undefineIfOffShared: (host: Host, domain: string) => Promise<UndefineResult> = (() => {
  const batched = batchWhileBusy((i: { host: Host; domain: string }) => i.host.key, undefineMany, FLEET_BURST);
  // The host's virsh shell answers each at once; the batch is for a host without one.
  return async (host: Host, domain: string) => (await virsh.undefineIfOffInShell(host, domain)) ?? batched({ host, domain });
})();
