import type { ObservedDevices } from "../libvirt/domain-devices.js";
import { DEFAULTS, type CdromSpec, type DiskSpec, type DomainInputs, type GraphicsSpec, type HostdevSpec, type NetworkSpec } from "./spec.js";

// What `pulumi refresh` reports of a domain's devices: a kind of device whose read-back differs
// from what the inputs specify becomes the observed list, so that `pulumi preview` shows the drift
// (e.g. `networks: [{"network":"default"}] => []` after a NIC was removed with virsh) and `pulumi up`
// puts the inputs back. Only what the inputs say is compared: libvirt's additions (addresses,
// generated MACs, controllers) are not drift. A kind that devicesXml adds elements of is not compared.

type Devices = Pick<DomainInputs, "disks" | "cdroms" | "networks" | "graphics" | "hostdevs">;

/** `given` is unset or equal to `seen`. */
const same = <T>(given: T | undefined, seen: T | undefined, fallback?: T): boolean => given === undefined && fallback === undefined ? true : (given ?? fallback) === seen;

const diskMatches = (d: DiskSpec, o: DiskSpec) =>
  d.path === o.path && same(d.bus, o.bus, "virtio") && (d.format === undefined || d.format === o.format) && (d.readonly === true) === (o.readonly === true) && same(d.bootOrder, o.bootOrder);
const cdromMatches = (c: CdromSpec, o: CdromSpec) => c.path === o.path && same(c.bus, o.bus, "sata") && same(c.bootOrder, o.bootOrder);
const networkMatches = (n: NetworkSpec, o: NetworkSpec) =>
  (n.bridge !== undefined ? n.bridge === o.bridge : (n.network ?? "default") === o.network) && same(n.model, o.model, "virtio") && (n.mac === undefined || n.mac.toLowerCase() === o.mac?.toLowerCase());
const fullPci = (a: string) => (/^[0-9a-fA-F]{4}:/.test(a) ? a : `0000:${a}`).toLowerCase();
const hostdevMatches = (h: HostdevSpec, o: HostdevSpec) => fullPci(h.address) === fullPci(o.address) && (h.managed ?? true) === (o.managed ?? true) && same(h.romFile, o.romFile);
const graphicsMatch = (g: GraphicsSpec, o: GraphicsSpec) => g.type === o.type && (g.type === "none" || (g.listen ?? "127.0.0.1") === o.listen);

const listsMatch = <T>(given: T[], seen: T[], matches: (g: T, o: T) => boolean) => given.length === seen.length && given.every((g, i) => matches(g, seen[i] as T));

/** The devices refresh reports as drift (an empty object when none). Pure. */
export function deviceDrift(inputs: DomainInputs, observed: ObservedDevices): Partial<Devices> {
  const extra = inputs.devicesXml ?? "";
  const added = (tag: string) => new RegExp(`<${tag}[\\s>/]`).test(extra);
  const drift: Partial<Devices> = {};
  if (!added("disk") && !listsMatch(inputs.disks ?? [], observed.disks, diskMatches)) drift.disks = observed.disks;
  if (!added("disk") && !listsMatch(inputs.cdroms ?? [], observed.cdroms, cdromMatches)) drift.cdroms = observed.cdroms;
  if (!added("interface") && !listsMatch(inputs.networks ?? [], observed.networks, networkMatches)) drift.networks = observed.networks;
  if (!added("hostdev") && !listsMatch(inputs.hostdevs ?? [], observed.hostdevs, hostdevMatches)) drift.hostdevs = observed.hostdevs;
  if (!added("graphics") && !graphicsMatch({ ...DEFAULTS.graphics, ...inputs.graphics }, observed.graphics)) drift.graphics = observed.graphics;
  return drift;
}
