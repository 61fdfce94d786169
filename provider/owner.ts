import { randomBytes } from "node:crypto";

/**
 * Who owns a domain, an NVRAM file or a TPM state on a host: the stack and the resource (its URN)
 * that created it, and a random id minted at that create and kept in the stack state. The mark is
 * written with the thing itself (the domain's metadata, a file beside the NVRAM file, a file in
 * the TPM state directory), so that a second stack, a colleague's copy of the program or a
 * renamed resource cannot take over or delete what another resource owns.
 */
export interface OwnerMark {
  /** `organization/project/stack` of the stack that created it. */
  stack: string;
  /** The URN of the resource that created it (or took it over with adopt). */
  resource: string;
  /** Minted at create; the resource's `ownerId` output. */
  id: string;
}

/** What a resource passes about itself (the SDK computes it; the provider adds the id). */
export type OwnerInput = Omit<OwnerMark, "id">;

/** A new owner id: 16 random bytes, hex. */
export const mintOwnerId = (): string => randomBytes(16).toString("hex");

const ID = /^[0-9a-f]{32}$/;

/** The mark written beside an NVRAM file or in a TPM state directory: `key=value` lines, id first. */
export function renderMarkFile(mark: OwnerMark): string {
  // The id leads so that a shell can compare the first line alone.
  return `id=${mark.id}\nstack=${oneLine(mark.stack)}\nresource=${oneLine(mark.resource)}\n`;
}

const oneLine = (s: string): string => s.replace(/[\r\n]/g, " ");

/** Reads a mark file's text; undefined when it is not one. Pure. */
export function parseMarkFile(text: string | undefined): OwnerMark | undefined {
  if (text === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const id = fields.get("id") ?? "";
  if (!ID.test(id)) return undefined;
  return { id, stack: fields.get("stack") ?? "", resource: fields.get("resource") ?? "" };
}

/**
 * How a thing found on the host relates to the resource about to create it:
 * - `leftover`: marked by this very resource (same URN): an earlier create of it whose result never
 *   reached the stack (the connection dropped); taken over so that `pulumi up` converges;
 * - `foreign`: marked by another resource (another stack, or another resource of this stack);
 * - `unmarked`: no mark (made by hand, by another tool, or by a pulumi-ovmf before owner marks).
 */
export type Finding = "leftover" | "foreign" | "unmarked";

/** Pure. */
export function judge(found: OwnerMark | undefined, me: OwnerInput | undefined): Finding {
  if (found === undefined) return "unmarked";
  return me !== undefined && found.resource === me.resource ? "leftover" : "foreign";
}

/**
 * Whether a delete, move or reset of a resource whose state holds `ownerId` must leave the thing
 * alone: it carries another resource's mark (it was taken over with adopt). Unmarked things (made
 * before owner marks) are still the resource's own. Pure.
 */
export function ownedByAnother(found: OwnerMark | undefined, ownerId: string | undefined): boolean {
  return found !== undefined && found.id !== ownerId;
}

/** "resource <urn> of stack <stack>", for messages. */
export function describeOwner(mark: OwnerMark): string {
  return `${mark.resource || "(unknown resource)"} of stack ${mark.stack || "(unknown)"}`;
}

/** The owner a create records: the resource's own, with the id of a leftover it converges on. */
export function ownerFor(me: OwnerInput | undefined, found: OwnerMark | undefined): OwnerMark | undefined {
  if (me === undefined) return undefined;
  return { ...me, id: found !== undefined && judge(found, me) === "leftover" ? found.id : mintOwnerId() };
}
