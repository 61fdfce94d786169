import { XMLBuilder, XMLParser } from "fast-xml-parser";
import type { ResolvedDomain } from "../q35-domain/spec.js";
import type { OwnerMark } from "../owner.js";

/** Namespace of the metadata pulumi-ovmf writes into the domains it manages. */
export const METADATA_NS = "urn:pulumi-ovmf:domain:1";

type Node = Record<string, unknown>;
const attrs = (o: Record<string, string | number | undefined>): Node =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [`@_${k}`, String(v)]));

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", format: true, indentBy: "  ", suppressEmptyNode: true });
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ["disk", "interface", "controller", "hostdev", "serial", "console", "graphics", "input", "tpm", "video"].includes(name),
});

/** The host bus and slot of a PCI address: the functions of one device share it. */
function hostSlot(address: string): string {
  return address.replace(/^0000:/, "").replace(/\.[0-7]$/, "");
}

/** sda, sdb, ... / vda, vdb, ... */
function devName(prefix: string, index: number): string {
  return prefix + String.fromCharCode(97 + index);
}

/** Splits `0000:01:00.0` / `01:00.0` into libvirt's address attributes. */
export function pciAddress(address: string): Node {
  const m = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(address);
  if (m === null) throw new Error(`not a PCI address: ${address}`);
  return attrs({ domain: `0x${m[1] ?? "0000"}`, bus: `0x${m[2]}`, slot: `0x${m[3]}`, function: `0x${m[4]}` });
}

/**
 * The `<cpu>` element of a mode, with the model of mode "custom": exactly that model
 * (match='exact'), and a start refused rather than a silent fallback to another one
 * (fallback='forbid'), as libvirt's formatdomain describes. Shared with the KVM probe. Pure.
 */
export function cpuElement(mode: string, model?: string): Node {
  if (model === undefined) return attrs({ mode });
  return { ...attrs({ mode, match: "exact" }), model: { ...attrs({ fallback: "forbid" }), "#text": model } };
}

/** The libvirt domain XML for a resolved Q35Domain. Built as a tree, never by string concatenation. */
export function renderDomain(d: ResolvedDomain, uuid?: string, owner?: OwnerMark): string {
  let sd = 0;
  let vd = 0;
  const disks: Node[] = [];
  for (const disk of d.disks) {
    const bus = disk.bus ?? "virtio";
    disks.push({
      ...attrs({ type: "file", device: "disk" }),
      driver: attrs({ name: "qemu", type: disk.format ?? "raw" }),
      source: attrs({ file: disk.path }),
      target: attrs({ dev: bus === "virtio" ? devName("vd", vd++) : devName("sd", sd++), bus }),
      ...(disk.readonly === true ? { readonly: "" } : {}),
      ...(disk.bootOrder === undefined ? {} : { boot: attrs({ order: disk.bootOrder }) }),
    });
  }
  for (const cd of d.cdroms) {
    disks.push({
      ...attrs({ type: "file", device: "cdrom" }),
      driver: attrs({ name: "qemu", type: "raw" }),
      ...(cd.path === undefined ? {} : { source: attrs({ file: cd.path }) }),
      target: attrs({ dev: devName("sd", sd++), bus: cd.bus ?? "sata" }),
      readonly: "",
      ...(cd.bootOrder === undefined ? {} : { boot: attrs({ order: cd.bootOrder }) }),
    });
  }
  const scsi = [...d.disks.map((x) => x.bus), ...d.cdroms.map((x) => x.bus)].includes("scsi");
  const groups = [...new Set(d.hostdevs.map((h) => hostSlot(h.address)))];
  const controllers: Node[] = [
    attrs({ type: "usb", model: d.usb ? "qemu-xhci" : "none" }),
    ...(scsi ? [attrs({ type: "scsi", model: "virtio-scsi" })] : []),
    // q35's PCIe root is index 0; hot-plug root ports follow it.
    attrs({ type: "pci", index: 0, model: "pcie-root" }),
    ...Array.from({ length: d.pcieRootPorts + groups.length }, (_, i) => attrs({ type: "pci", index: i + 1, model: "pcie-root-port" })),
  ];
  const interfaces = d.networks.map((n) => ({
    ...attrs({ type: n.bridge !== undefined ? "bridge" : "network" }),
    source: n.bridge !== undefined ? attrs({ bridge: n.bridge }) : attrs({ network: n.network ?? "default" }),
    ...(n.mac === undefined ? {} : { mac: attrs({ address: n.mac.toLowerCase() }) }),
    model: attrs({ type: n.model ?? "virtio" }),
  }));
  // Functions of one physical device (same host bus and slot) share a guest slot behind a root port
  // of their own, as on the host: function 0 is marked multifunction when there are several.
  const hostdevs = d.hostdevs.map((h) => {
    const group = groups.indexOf(hostSlot(h.address));
    const fn = Number(/\.([0-7])$/.exec(h.address)?.[1] ?? 0);
    const several = d.hostdevs.filter((x) => hostSlot(x.address) === hostSlot(h.address)).length > 1;
    const guest = attrs({ type: "pci", domain: "0x0000", bus: `0x${(d.pcieRootPorts + 1 + group).toString(16).padStart(2, "0")}`, slot: "0x00", function: `0x${fn}`, multifunction: fn === 0 && (several || h.multifunction === true) ? "on" : undefined });
    return {
      ...attrs({ mode: "subsystem", type: "pci", managed: h.managed === false ? "no" : "yes" }),
      source: { address: pciAddress(h.address) },
      ...(h.romFile === undefined ? {} : { rom: attrs({ file: h.romFile }) }),
      address: guest,
    };
  });
  const primaryGpu = d.hostdevs.some((h) => h.primaryGpu === true);
  const serialSource = d.serial.type === "file" ? { source: attrs({ path: d.serial.path }) } : {};
  const devices: Node = {
    disk: disks,
    controller: controllers,
    interface: interfaces,
    serial: [{ ...attrs({ type: d.serial.type }), ...serialSource, target: attrs({ port: 0 }) }],
    console: [{ ...attrs({ type: d.serial.type }), ...serialSource, target: attrs({ type: "serial", port: 0 }) }],
    ...(d.usb ? { input: [attrs({ type: "tablet", bus: "usb" })] } : {}),
    // autoport: libvirt gives a SPICE display without a port no socket at all (listen type none).
    ...(d.graphics.type === "none" ? {} : { graphics: [{ ...attrs({ type: d.graphics.type, autoport: "yes", listen: d.graphics.listen ?? "127.0.0.1" }) }] }),
    video: [{ model: attrs({ type: d.graphics.type === "none" || primaryGpu ? "none" : "virtio" }) }],
    hostdev: hostdevs,
    ...(d.tpm ? { tpm: [{ ...attrs({ model: "tpm-crb" }), backend: attrs({ type: "emulator", version: "2.0" }) }] } : {}),
  };
  if (d.devicesXml !== undefined && d.devicesXml.trim() !== "") mergeDevices(devices, d.devicesXml);
  const smm = d.secureBoot || d.firmware.features.includes("requires-smm");
  const domain: Node = {
    ...attrs({ type: d.domainType }),
    name: d.name,
    ...(uuid === undefined ? {} : { uuid }),
    metadata: { "ovmf:domain": { ...attrs({ "xmlns:ovmf": METADATA_NS, ...metadataAttrs(d, owner) }) } },
    memory: { ...attrs({ unit: "MiB" }), "#text": d.memoryMiB },
    vcpu: d.vcpus,
    os: {
      type: { ...attrs({ arch: "x86_64", machine: "q35" }), "#text": "hvm" },
      loader: { ...attrs({ readonly: "yes", secure: d.secureBoot ? "yes" : "no", type: "pflash" }), "#text": d.firmware.codePath },
      nvram: d.nvram.path,
    },
    features: { acpi: "", apic: "", ...(smm ? { smm: attrs({ state: "on" }) } : {}) },
    ...(d.cpuMode !== undefined ? { cpu: cpuElement(d.cpuMode, d.cpuModel) } : d.domainType === "kvm" ? { cpu: cpuElement("host-passthrough") } : {}),
    clock: attrs({ offset: "utc" }),
    on_poweroff: "destroy",
    on_reboot: "restart",
    on_crash: "destroy",
    devices,
  };
  return builder.build({ domain }) as string;
}

/** What pulumi-ovmf keeps in a domain's metadata: its NVRAM file, shutdown timeout and owner mark (see provider/owner.ts). */
function metadataAttrs(d: ResolvedDomain, owner: OwnerMark | undefined): Record<string, string | number> {
  return {
    nvram: d.nvram.path,
    shutdownTimeoutSeconds: d.shutdownTimeoutSeconds,
    ...(owner === undefined ? {} : { ownerId: owner.id, ownerStack: owner.stack, ownerResource: owner.resource }),
  };
}

/**
 * The metadata element alone, as `virsh metadata --set` takes it (libvirt puts it in
 * {@link METADATA_NS} under the key `ovmf`), to change the mark without redefining the domain.
 */
export function renderMetadata(d: ResolvedDomain, owner: OwnerMark | undefined): string {
  return builder.build({ domain: attrs(metadataAttrs(d, owner)) }) as string;
}

/** Parses the escape-hatch XML and appends its elements to the devices. */
function mergeDevices(devices: Node, xml: string): void {
  const extra = parser.parse(`<devices>${xml}</devices>`) as { devices?: Node | string };
  if (typeof extra.devices !== "object") return;
  for (const [tag, value] of Object.entries(extra.devices)) {
    const list = Array.isArray(value) ? value : [value];
    const existing = devices[tag];
    devices[tag] = existing === undefined ? list : [...(Array.isArray(existing) ? existing : [existing]), ...list];
  }
}

/** What refresh compares: the parts of a live domain a user specifies. */
export interface ObservedDomain {
  name: string;
  uuid: string;
  type: string;
  machine: string;
  memoryMiB: number;
  vcpus: number;
  codePath: string;
  secureBoot: boolean;
  nvramPath: string;
  disks: Array<{ path: string; bus: string }>;
  cdroms: Array<{ path?: string; bus: string }>;
  macs: string[];
}

const text = (v: unknown): string => (typeof v === "object" && v !== null ? String((v as Node)["#text"] ?? "") : String(v ?? "")).trim();
const attr = (v: unknown, name: string): string | undefined => (typeof v === "object" && v !== null ? ((v as Node)[`@_${name}`] as string | undefined) : undefined);

const UNIT_TO_KIB: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, kb: 1000 / 1024, m: 1024, mib: 1024, mb: 1000000 / 1024, g: 1024 * 1024, gib: 1024 * 1024 };

/** Reads the comparable parts of a domain XML (as `virsh dumpxml` prints it). Pure. */
export function parseDomain(xml: string): ObservedDomain {
  const doc = parser.parse(xml) as { domain: Node };
  const d = doc.domain;
  const os = (d["os"] ?? {}) as Node;
  const memory = d["memory"];
  const kib = Number(text(memory)) * (UNIT_TO_KIB[(attr(memory, "unit") ?? "KiB").toLowerCase()] ?? 1);
  const devices = (d["devices"] ?? {}) as Node;
  const disks = ((devices["disk"] ?? []) as Node[]).map((x) => ({
    device: attr(x, "device") ?? "disk",
    path: attr(x["source"], "file"),
    bus: attr(x["target"], "bus") ?? "",
  }));
  return {
    name: text(d["name"]),
    uuid: text(d["uuid"]),
    type: attr(d, "type") ?? "",
    machine: attr(os["type"], "machine") ?? "",
    memoryMiB: Math.round(kib / 1024),
    vcpus: Number(text(d["vcpu"])),
    codePath: text(os["loader"]),
    secureBoot: attr(os["loader"], "secure") === "yes",
    nvramPath: text(os["nvram"]),
    disks: disks.filter((x) => x.device === "disk").map((x) => ({ path: x.path ?? "", bus: x.bus })),
    cdroms: disks.filter((x) => x.device === "cdrom").map((x) => ({ ...(x.path === undefined ? {} : { path: x.path }), bus: x.bus })),
    macs: ((devices["interface"] ?? []) as Node[]).map((i) => attr(i["mac"], "address") ?? "").filter((m) => m !== ""),
  };
}

/** The `<emulator>` that escape-hatch device XML sets, if any. Pure. */
export function emulatorOf(devicesXml: string | undefined): string | undefined {
  if (devicesXml === undefined || devicesXml.trim() === "") return undefined;
  const parsed = parser.parse(`<devices>${devicesXml}</devices>`) as { devices?: Node | string };
  if (typeof parsed.devices !== "object") return undefined;
  const emulator = text(parsed.devices["emulator"]);
  return emulator === "" ? undefined : emulator;
}
