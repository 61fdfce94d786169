import { randomBytes } from "node:crypto";
import type { Host } from "../host/host.js";
import type { DomainState } from "./domain-state.js";
import { classifyVirshError } from "./errors.js";
import { NEEDS_QUOTING_IN_BATCH } from "./steps.js";
import { describeInShell, LIBVIRT_URI } from "./virsh.js";
import { runInShell } from "./virsh-shell.js";

// Every domain's name, state and inactive XML in one remote command (one SSH round trip instead of
// one per domain), and in one virsh process for the usual names (one libvirt connection instead of
// two per domain): records of names virsh's own command line would need quoting for come first,
// ending with \035 and fields split by \036 (neither can occur in XML); then \034 and the batch,
// whose records are delimited by a per-call nonce ($2) that no definition holds.
const DEFINITIONS = `names=$(virsh -q -c "$1" list --all --name) || exit $?
n=$2 batch=""
set -f; nl='
'; IFS=$nl
for d in $names; do
  case $d in
  ${NEEDS_QUOTING_IN_BATCH})
    s=$(virsh -q -c "$1" domstate -- "$d" 2>/dev/null) || continue
    x=$(virsh -q -c "$1" dumpxml --inactive -- "$d" 2>/dev/null) || continue
    printf '%s\\036%s\\036%s\\n\\035' "$d" "$s" "$x";;
  *) batch="$batch echo $n-S $d $n-N; domstate -- $d; echo $n-X; dumpxml --inactive -- $d; echo $n-E;";;
  esac
done
printf '\\034'
[ -z "$batch" ] || virsh -q -c "$1" "$batch" 2>/dev/null || true`;

export interface Definition {
  domain: string;
  state: DomainState;
  /** The persistent (inactive) definition. */
  xml: string;
}

/** Every domain on the host with its state and definition; a domain removed meanwhile is left out. */
export async function definitions(host: Host): Promise<Definition[]> {
  const inShell = await definitionsInShell(host);
  if (inShell !== undefined) return inShell;
  const nonce = `pulumi-ovmf-${randomBytes(12).toString("hex")}`;
  const r = await host.run(["env", "LC_ALL=C", "sh", "-c", DEFINITIONS, "sh", LIBVIRT_URI, nonce]);
  if (r.code !== 0) throw classifyVirshError({ target: host.target, operation: "list", code: r.code, stderr: r.stderr });
  return parseDefinitions(r.stdout, nonce);
}

/** The records {@link definitions} prints. Pure. */
export function parseDefinitions(out: string, nonce: string): Definition[] {
  const sep = out.indexOf("\u001c");
  const quoted = (sep < 0 ? out : out.slice(0, sep))
    .split("\u001d")
    .filter((rec) => rec.includes("\u001e"))
    .map((rec) => {
      const [domain = "", state = "", xml = ""] = rec.split("\u001e");
      return { domain: domain.replace(/^\n+/, ""), state: state.trim() as DomainState, xml };
    });
  const batch: Definition[] = [];
  if (sep >= 0) {
    // virsh's echo ends without a newline in a batch; the state and the XML come as virsh prints them.
    for (const rec of out.slice(sep + 1).split(`${nonce}-S `).slice(1)) {
      const m = /^(\S+) (\S+)-N([\s\S]*?)\2-X([\s\S]*?)\2-E/.exec(rec);
      if (m === null || m[2] !== nonce) continue;
      const state = (m[3] ?? "").trim();
      const xml = (m[4] ?? "").replace(/^\n+/, "");
      // A domain removed between the listing and the batch has no state and no XML: left out.
      if (state !== "" && xml.startsWith("<domain")) batch.push({ domain: m[1] ?? "", state: state as DomainState, xml });
    }
  }
  return [...quoted, ...batch];
}

/** {@link definitions} through the host's virsh shell; undefined when the shell could not answer. */
async function definitionsInShell(host: Host): Promise<Definition[] | undefined> {
  const listed = await runInShell(host, LIBVIRT_URI, ["list", "--all", "--name"]);
  if (listed === undefined) return undefined;
  if (listed.code !== 0) throw classifyVirshError({ target: host.target, operation: "list", code: 1, stderr: listed.stderr });
  const names = listed.stdout.split("\n").filter((d) => d !== "");
  const read = await Promise.all(names.map((d) => describeInShell(host, d)));
  const found: Definition[] = [];
  for (const [k, r] of read.entries()) {
    if (r === undefined) return undefined;
    // A domain removed between the listing and its reads has no state and no XML: left out.
    if (!("failed" in r) && r.xml.startsWith("<domain")) found.push({ domain: names[k] ?? "", state: r.state, xml: r.xml });
  }
  return found;
}
