import { randomBytes } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import type { Host } from "../host/host.js";
import type { DomainState } from "./domain-state.js";
import { classifyVirshError, DOMAIN_NOT_FOUND, DomainExistsError } from "./errors.js";
import { NEEDS_QUOTING_IN_BATCH, STEP_HELPERS, STEP_MARK, stepError } from "./steps.js";
import { LIBVIRT_URI } from "./virsh.js";

// Defines a domain that must not exist yet and reads it back, in one remote command: "exists" with
// its state when a domain has the name (nothing changed); else define from stdin, autostart if
// asked, then the persistent XML and the state. For the usual names all of that after the check is
// ONE virsh process (one libvirt connection instead of three or four): a batch whose steps are
// delimited by a per-call nonce ($4). A batch goes on after a failed step, so each step's result is
// read from its own section ({@link parseDefineBatch}); names virsh would need quoting for run one
// virsh per step, each failure marked on stderr. An XML without a UUID ($5 "yes") and without
// autostart needs no look first: libvirt refuses to define a new UUID under a taken name, and the
// batch then reads what is there (one virsh process in all, no change on the host).
const DEFINE_NEW = `uri=$1 name=$2 autostart=$3 n=$4 fresh=$5
${STEP_HELPERS}
case $name in ${NEEDS_QUOTING_IN_BATCH}) look=yes;; *) look=;; esac
[ "$fresh" = yes ] && [ "$autostart" != yes ] || look=yes
if [ -n "$look" ] && state_of; then printf 'exists\\036%s' "$s"; exit 0; fi
case $name in
${NEEDS_QUOTING_IN_BATCH})
  virsh -q -c "$uri" define /dev/stdin >/dev/null || at define
  [ "$autostart" != yes ] || virsh -q -c "$uri" autostart -- "$name" >/dev/null || at autostart
  x=$(virsh -q -c "$uri" dumpxml --inactive -- "$name") || at dumpxml
  s=$(virsh -q -c "$uri" domstate -- "$name") || at state
  printf 'defined\\036%s\\036%s\\n' "$s" "$x";;
*)
  a=""; [ "$autostart" != yes ] || a="autostart -- $name; echo $n-A;"
  printf 'batch\\036'
  virsh -c "$uri" "define /dev/stdin; echo $n-D; $a dumpxml --inactive -- $name; echo $n-X; domstate -- $name; echo $n-E" || true;;
esac`;

const xmlParser = new XMLParser();
/** Whether the domain XML has no `<uuid>` (libvirt then gives the domain a new one). Pure. */
export function hasNoUuid(xml: string): boolean {
  const doc = xmlParser.parse(xml) as { domain?: { uuid?: unknown } };
  return doc.domain !== undefined && doc.domain.uuid === undefined;
}

export type DefineNew = { defined: false; state: DomainState } | { defined: true; state: DomainState; xml: string };

/** Errors of {@link defineNew} thrown after the domain was defined (the caller rolls it back). */
const afterDefine = new WeakSet<object>();
export const failedAfterDefine = (err: unknown): boolean => typeof err === "object" && err !== null && afterDefine.has(err);

export type BatchStep = "define" | "autostart" | "dumpxml" | "domstate";

/**
 * What the define batch printed: the first step that failed (undefined when none did), the
 * persistent XML and the state. Pure. virsh (not quiet) says "Domain 'NAME' defined from ..." and
 * "... marked as autostarted" on success; dumpxml prints a `<domain`, domstate a state.
 */
export function parseDefineBatch(out: string, nonce: string, autostart: boolean): { failed?: BatchStep; xml: string; state: string } {
  const section = (from: string | undefined, to: string): string | undefined => {
    const start = from === undefined ? 0 : out.indexOf(`${nonce}-${from}`);
    const end = out.indexOf(`${nonce}-${to}`, Math.max(start, 0));
    if (start < 0 || end < 0) return undefined;
    return out.slice(from === undefined ? 0 : start + nonce.length + 1 + from.length, end);
  };
  const defined = section(undefined, "D");
  const marked = autostart ? section("D", "A") : "";
  // As dumpxml prints it alone: the document and one newline.
  const xml = `${(section(autostart ? "A" : "D", "X") ?? "").trim()}\n`;
  const state = (section("X", "E") ?? "").trim();
  const failed: BatchStep | undefined =
    defined === undefined || !/ defined from /.test(defined)
      ? "define"
      : marked === undefined || (autostart && !/marked as autostarted/.test(marked))
        ? "autostart"
        : !xml.startsWith("<domain")
          ? "dumpxml"
          : state === ""
            ? "domstate"
            : undefined;
  return { ...(failed === undefined ? {} : { failed }), xml, state };
}

/** After a failed define, the batch's later steps only say the domain does not exist: left out. */
const withoutLaterSteps = (stderr: string): string =>
  stderr
    .split("\n")
    .filter((l) => !DOMAIN_NOT_FOUND.some((t) => l.includes(t)))
    .join("\n");

/**
 * Defines `domain` from `xml` unless a domain of that name exists (then only its state is
 * returned), sets autostart when asked, and returns the persistent XML and state: one round trip.
 */
export async function defineNew(host: Host, domain: string, xml: string, autostart: boolean): Promise<DefineNew> {
  const nonce = `pulumi-ovmf-${randomBytes(12).toString("hex")}`;
  const fresh = hasNoUuid(xml) ? "yes" : "";
  const r = await host.run(["env", "LC_ALL=C", "sh", "-c", DEFINE_NEW, "sh", LIBVIRT_URI, domain, autostart ? "yes" : "", nonce, fresh], { stdin: xml });
  if (r.code !== 0) {
    const err = stepError(host, r, domain, "domstate");
    if (!["domstate", "define"].includes(err.failure.operation) || STEP_MARK.exec(r.stderr)?.[1] === "state") afterDefine.add(err);
    throw err;
  }
  const [what, ...rest] = r.stdout.split("\u001e");
  if (what === "exists") return { defined: false, state: (rest[0] ?? "").trim() as DomainState };
  if (what === "defined") return { defined: true, state: (rest[0] ?? "").trim() as DomainState, xml: rest[1] ?? "" };
  const batch = parseDefineBatch(rest.join("\u001e"), nonce, autostart);
  if (batch.failed !== undefined) {
    const stderr = batch.failed === "define" ? withoutLaterSteps(r.stderr) : r.stderr;
    const err = classifyVirshError({ target: host.target, operation: batch.failed, code: 1, stderr, domain });
    // Defined without a look first, the name was taken: what is there was read by the same batch.
    if (err instanceof DomainExistsError && fresh === "yes" && batch.xml.startsWith("<domain") && batch.state !== "") {
      return { defined: false, state: batch.state as DomainState };
    }
    if (batch.failed !== "define") afterDefine.add(err);
    throw err;
  }
  return { defined: true, state: batch.state as DomainState, xml: batch.xml };
}
