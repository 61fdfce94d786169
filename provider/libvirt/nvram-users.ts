import { XMLParser } from "fast-xml-parser";
import type { Host } from "../host/host.js";
import { METADATA_NS } from "./domain-xml.js";
import { coalesceAfter } from "../coalesce.js";
import { definitions } from "./definitions.js";
import type * as virsh from "./virsh.js";
import type { OwnerMark } from "../owner.js";

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_" });

/** The NVRAM file a domain XML refers to (`<os><nvram>path</nvram>`), if any. Pure. */
export function nvramPathOf(domainXml: string): string | undefined {
  const doc = parser.parse(domainXml) as { domain?: { os?: { nvram?: string | { "#text"?: string } } } };
  const nvram = doc.domain?.os?.nvram;
  const text = typeof nvram === "string" ? nvram : nvram?.["#text"];
  return text?.trim() || undefined;
}

/** The pulumi-ovmf metadata of a domain a Q35Domain manages, if it is one. Pure. */
export function managedMetadata(domainXml: string): { shutdownTimeoutSeconds: number; owner?: OwnerMark } | undefined {
  const doc = parser.parse(domainXml) as { domain?: { metadata?: Record<string, Record<string, string> | undefined> } };
  for (const [tag, node] of Object.entries(doc.domain?.metadata ?? {})) {
    if (node === undefined || !tag.endsWith(":domain") && tag !== "domain") continue;
    const ns = Object.entries(node).find(([k]) => k.startsWith("@_xmlns"))?.[1];
    if (ns !== METADATA_NS) continue;
    const id = node["@_ownerId"];
    const owner = id === undefined ? undefined : { id, stack: node["@_ownerStack"] ?? "", resource: node["@_ownerResource"] ?? "" };
    return { shutdownTimeoutSeconds: Number(node["@_shutdownTimeoutSeconds"] ?? 60), ...(owner === undefined ? {} : { owner }) };
  }
  return undefined;
}

export interface NvramUser {
  domain: string;
  state: virsh.DomainState;
  /** Set when a Q35Domain manages the domain. */
  managed?: { shutdownTimeoutSeconds: number };
}

// Listings asked for at once (the Nvram deletes and moves of one deployment) are shared, each one
// started after its caller asked (so a domain removed just before is never seen).
const freshDefinitions = coalesceAfter((host: Host) => host.key, definitions);

/** Domains on the host (running or defined) whose definition uses the NVRAM file at `path`. */
export async function domainsUsingNvram(host: Host, path: string): Promise<NvramUser[]> {
  return (await nvramUsersOn(host))(path);
}

/** One listing of the host's domains, asked of for any number of NVRAM files. */
export async function nvramUsersOn(host: Host): Promise<(path: string) => NvramUser[]> {
  const defs = await freshDefinitions(host);
  return (path) =>
    defs
      .filter((d) => nvramPathOf(d.xml) === path)
      .map((d) => {
        const managed = managedMetadata(d.xml);
        return { domain: d.domain, state: d.state, ...(managed === undefined ? {} : { managed }) };
      });
}
