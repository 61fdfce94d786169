import { XMLParser } from "fast-xml-parser";
import type { CdromSpec, DiskSpec, GraphicsSpec, HostdevSpec, NetworkSpec } from "../q35-domain/spec.js";

// Reads a domain's devices back in the shape of Q35Domain's inputs, so that refresh can compare
// them with what the inputs say (provider/q35-domain/drift.ts).

type Node = Record<string, unknown>;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ["disk", "interface", "hostdev", "graphics"].includes(name),
});

const attr = (v: unknown, name: string): string | undefined => (typeof v === "object" && v !== null ? ((v as Node)[`@_${name}`] as string | undefined) : undefined);
const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const bootOrder = (x: Node): { bootOrder?: number } => {
  const order = attr(x["boot"], "order");
  return order === undefined ? {} : { bootOrder: Number(order) };
};

/** A domain's devices as Q35Domain inputs. */
export interface ObservedDevices {
  disks: DiskSpec[];
  cdroms: CdromSpec[];
  networks: NetworkSpec[];
  graphics: GraphicsSpec;
  hostdevs: HostdevSpec[];
}

/** `0000:01:00.0` from libvirt's `<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>`. Pure. */
function pciOf(address: unknown): string {
  const hex = (name: string, width: number) => (attr(address, name) ?? "0").replace(/^0x/, "").padStart(width, "0").toLowerCase();
  return `${hex("domain", 4)}:${hex("bus", 2)}:${hex("slot", 2)}.${String(Number.parseInt(attr(address, "function") ?? "0", 16))}`;
}

/** Reads the devices of a domain XML (as `virsh dumpxml --inactive` prints it). Pure. */
export function observeDevices(xml: string): ObservedDevices {
  const doc = parser.parse(xml) as { domain?: { devices?: Node } };
  const devices = doc.domain?.devices ?? {};
  const disks = list(devices["disk"]);
  return {
    disks: disks
      .filter((d) => (attr(d, "device") ?? "disk") === "disk")
      .map((d) => ({
        path: attr(d["source"], "file") ?? "",
        bus: (attr(d["target"], "bus") ?? "virtio") as NonNullable<DiskSpec["bus"]>,
        format: (attr(d["driver"], "type") ?? "raw") as NonNullable<DiskSpec["format"]>,
        ...(d["readonly"] === undefined ? {} : { readonly: true }),
        ...bootOrder(d),
      })),
    cdroms: disks
      .filter((d) => attr(d, "device") === "cdrom")
      .map((d) => {
        const path = attr(d["source"], "file");
        return { ...(path === undefined ? {} : { path }), bus: (attr(d["target"], "bus") ?? "sata") as NonNullable<CdromSpec["bus"]>, ...bootOrder(d) };
      }),
    networks: list(devices["interface"]).map((i) => {
      const type = attr(i, "type");
      const source = type === "bridge" ? { bridge: attr(i["source"], "bridge") ?? "" } : { network: attr(i["source"], "network") ?? "" };
      const mac = attr(i["mac"], "address");
      return { ...source, model: attr(i["model"], "type") ?? "virtio", ...(mac === undefined ? {} : { mac }) };
    }),
    graphics: (() => {
      const g = list(devices["graphics"])[0];
      if (g === undefined) return { type: "none" as const };
      const listen = attr(g, "listen") ?? attr(g["listen"], "address");
      return { type: (attr(g, "type") ?? "vnc") as GraphicsSpec["type"], ...(listen === undefined ? {} : { listen }) };
    })(),
    hostdevs: list(devices["hostdev"])
      .filter((h) => attr(h, "type") === "pci")
      .map((h) => {
        const rom = attr(h["rom"], "file");
        return { address: pciOf((h["source"] as Node | undefined)?.["address"]), managed: attr(h, "managed") !== "no", ...(rom === undefined ? {} : { romFile: rom }) };
      }),
  };
}
