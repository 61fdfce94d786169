import { isUnknown } from "../dynamic.js";
import { hasUnknowns } from "../inputs.js";
import { identity } from "../ssh/connection.js";
import { sameDisks } from "./disk-formats.js";
import type { DomainInputs } from "./spec.js";

/** How a change to an input is applied. */
export type ChangeKind = "none" | "live" | "restart" | "move" | "replace";

/**
 * The update-vs-replace table (the README shows it). `replace`: another domain (name, host).
 * `restart`: redefined, and if running, shut down gracefully (then forced after
 * shutdownTimeoutSeconds) and started again. `move`: another host with hostMove "live": migrated
 * while it runs (an update, not a replacement). `live`: applied without touching the guest.
 * `none`: only recorded.
 */
export const CHANGE_TABLE: Record<Exclude<keyof DomainInputs, "connection" | "owner" | "peers">, ChangeKind> = {
  name: "replace",
  memoryMiB: "restart",
  vcpus: "restart",
  firmware: "restart",
  nvram: "restart",
  secureBoot: "restart",
  domainType: "restart",
  cpuMode: "restart",
  cpuModel: "restart",
  disks: "restart",
  cdroms: "restart",
  networks: "restart",
  graphics: "restart",
  serial: "restart",
  usb: "restart",
  pcieRootPorts: "restart",
  hostdevs: "restart",
  tpm: "replace",
  tpmState: "replace",
  devicesXml: "restart",
  running: "live",
  autostart: "live",
  shutdownTimeoutSeconds: "none",
  adopt: "none",
  hostMove: "none",
  migrationAddress: "none",
};

const RANK: Record<ChangeKind, number> = { none: 0, live: 1, restart: 2, move: 3, replace: 4 };

export interface Classified {
  kind: ChangeKind;
  /** Changed inputs, by how they apply. */
  changed: Array<{ property: string; kind: ChangeKind }>;
}

/** Classifies every difference between old and new inputs. Pure. */
export function classify(olds: DomainInputs, news: DomainInputs): Classified {
  const changed: Classified["changed"] = [];
  if (identity(olds.connection) !== identity(news.connection)) changed.push({ property: "connection", kind: news.hostMove === "live" ? "move" : "replace" });
  else if (JSON.stringify(olds.connection) !== JSON.stringify(news.connection)) changed.push({ property: "connection", kind: "none" });
  for (const [property, kind] of Object.entries(CHANGE_TABLE) as Array<[keyof DomainInputs, ChangeKind]>) {
    // An undeclared disk format is the one recorded for that path (read from the file), not a change.
    const differs = property === "disks" ? !sameDisks(olds.disks, news.disks) : JSON.stringify(olds[property]) !== JSON.stringify(news[property]);
    if (differs) changed.push({ property, kind });
  }
  // Not a user's input: who owns the domain, recorded and written into its owner mark (a state
  // from before owner marks, a resource renamed with aliases), without a restart.
  if (news.owner !== undefined && JSON.stringify(olds.owner) !== JSON.stringify(news.owner)) changed.push({ property: "owner", kind: "none" });
  const kind = changed.reduce<ChangeKind>((k, c) => (RANK[c.kind] > RANK[k] ? c.kind : k), "none");
  return { kind, changed };
}

/**
 * What replaces the domain when some new inputs are not known yet (a preview in which the firmware
 * or NVRAM they depend on is being replaced): the name or the host, when unknown or known and
 * changed. Everything else that is unknown may change, so the rest is an update. Pure.
 */
export function replacesWithUnknowns(olds: DomainInputs, news: DomainInputs): string[] {
  const replaces: string[] = [];
  if (isUnknown(news.name) || news.name !== olds.name) replaces.push("name");
  const { host, port } = news.connection;
  // A live host move is an update (a migration), never a replacement.
  if (news.hostMove !== "live" && (hasUnknowns([host, port]) || identity(olds.connection) !== identity(news.connection))) replaces.push("connection");
  return replaces;
}

/** What a live host move may carry along: the destination's definition holds the new paths. */
export const MOVES_WITH_HOST = ["firmware", "nvram"];

/**
 * With hostMove "live" and another host: the changes that would need a restart (or a
 * replacement), which a migration of the running guest cannot apply. Pure.
 */
export function blockedByLiveMove(olds: DomainInputs, news: DomainInputs): string[] {
  const c = classify(olds, news);
  if (!c.changed.some((x) => x.kind === "move")) return [];
  return c.changed.filter((x) => (x.kind === "restart" || x.kind === "replace") && !MOVES_WITH_HOST.includes(x.property)).map((x) => x.property);
}
