import { isUnknown } from "../dynamic.js";
import { checkAbsolutePath, checkBoolean, checkHostMove } from "../inputs.js";
import { validateConnection, type Failure } from "../ssh/connection.js";
import { fullPciAddress } from "./hostdevs.js";
import type { DomainInputs } from "./spec.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const PCI = /^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/;

const samePci = (a: unknown, b: unknown) => typeof a === "string" && typeof b === "string" && fullPciAddress(a) === fullPciAddress(b);
const known = (v: unknown) => v !== undefined && !isUnknown(v);
const list = <T>(v: T[] | undefined): T[] => (v === undefined || isUnknown(v) || !Array.isArray(v) ? [] : v);

function integer(f: Failure[], property: string, v: unknown, min: number, max: number, hint: string) {
  if (!known(v)) return;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) f.push({ property, reason: `${property} must be a whole number from ${min} to ${max} (${hint}), got ${JSON.stringify(v)}` });
}

const CPU_MODES = ["host-passthrough", "host-model", "maximum", "custom"];
// libvirt's model names (virsh cpu-models x86_64): Skylake-Client-IBRS, EPYC-Rome, qemu64, ...
const CPU_MODEL = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;
const MODELS_HINT = "virsh domcapabilities on the host lists the models it runs (usable='yes')";

/** cpuMode and cpuModel: a model belongs to mode "custom", which has no default model. */
function validateCpu(f: Failure[], i: DomainInputs): void {
  if (known(i.cpuMode) && !CPU_MODES.includes(i.cpuMode as string)) {
    f.push({ property: "cpuMode", reason: `cpuMode must be "host-passthrough" (the default under kvm), "host-model", "maximum" or "custom" (with cpuModel), got ${JSON.stringify(i.cpuMode)}` });
  }
  if (known(i.cpuModel) && (typeof i.cpuModel !== "string" || !CPU_MODEL.test(i.cpuModel))) {
    f.push({ property: "cpuModel", reason: `${JSON.stringify(i.cpuModel)} is not a CPU model name: letters, digits and _ . + -, like "Skylake-Client" or "EPYC-Rome" (${MODELS_HINT})` });
  } else if (known(i.cpuModel) && !isUnknown(i.cpuMode) && i.cpuMode !== "custom") {
    f.push({ property: "cpuModel", reason: `cpuModel is the model of cpuMode "custom", but cpuMode is ${i.cpuMode === undefined ? "not set" : JSON.stringify(i.cpuMode)}: set cpuMode: "custom", or remove cpuModel` });
  }
  if (i.cpuMode === "custom" && i.cpuModel === undefined) {
    f.push({ property: "cpuModel", reason: `cpuMode "custom" needs a model: set cpuModel, e.g. "Skylake-Client" (${MODELS_HINT})` });
  }
}

/**
 * Preview-time validation of a Q35Domain: every failure names the property and the fix.
 * Unknown values (outputs of resources not created yet) pass.
 */
export function validateDomain(i: DomainInputs): Failure[] {
  const f: Failure[] = validateConnection(i.connection, "connection", isUnknown);
  if (!known(i.name)) {
    if (i.name === undefined) f.push({ property: "name", reason: "name is required" });
  } else if (typeof i.name !== "string" || !NAME.test(i.name)) {
    f.push({ property: "name", reason: `"${String(i.name)}" is not a usable domain name: 1-63 letters, digits, and _ . + - (not first)` });
  }
  integer(f, "memoryMiB", i.memoryMiB, 16, 4 * 1024 * 1024, "MiB of guest memory, e.g. 2048");
  integer(f, "vcpus", i.vcpus, 1, 512, "virtual CPUs");
  integer(f, "pcieRootPorts", i.pcieRootPorts, 0, 28, "hot-plug slots; default 4");
  integer(f, "shutdownTimeoutSeconds", i.shutdownTimeoutSeconds, 0, 3600, "default 60");
  for (const k of ["running", "autostart", "usb", "tpm", "adopt", "secureBoot"] as const) checkBoolean(f, k, i[k], k === "running" || k === "usb" ? "true" : "false");
  checkHostMove(f, i.hostMove);
  if (known(i.migrationAddress) && (typeof i.migrationAddress !== "string" || !/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])$/.test(i.migrationAddress))) {
    f.push({ property: "migrationAddress", reason: `migrationAddress must be a host name or IP address (an IPv6 one in brackets) at which the source host reaches the destination, e.g. "10.0.0.12", got ${JSON.stringify(i.migrationAddress)}` });
  }
  if (i.tpm === true && i.tpmState === undefined) {
    f.push({
      property: "tpm",
      reason:
        "an emulated TPM needs an owner for its state (its endorsement key and what the guest sealed in it): pass tpm: a TpmState " +
        '(new TpmState("web", { connection, backup: true })), which keeps it across renames and replacements, moves it with the VM and backs it up',
    });
  }
  if (known(i.tpmState) && known(i.tpmState?.uuid) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(String(i.tpmState?.uuid))) {
    f.push({ property: "tpmState", reason: `tpmState.uuid ${JSON.stringify(i.tpmState?.uuid)} is not a lower-case UUID: pass a TpmState` });
  }
  if (known(i.domainType) && !["auto", "kvm", "qemu"].includes(i.domainType as string)) {
    f.push({ property: "domainType", reason: `domainType must be "auto" (default: kvm when usable), "kvm" or "qemu", got ${JSON.stringify(i.domainType)}` });
  }
  validateCpu(f, i);

  const fw = i.firmware;
  if (known(fw) && known(fw.features) && i.secureBoot === true && !fw.features.includes("secure-boot")) {
    f.push({
      property: "secureBoot",
      reason: `the firmware ${fw.codePath} does not support Secure Boot (its features: ${fw.features.join(", ") || "none"}): use a FirmwareImage with secureBoot: true (SecureBootVm: firmware), or set secureBoot: false (a SecureBootVm always enforces it)`,
    });
  }
  if (known(fw) && known(i.nvram) && known(fw.variant) && known(i.nvram.variant) && i.nvram.variant !== "" && fw.variant !== i.nvram.variant) {
    f.push({ property: "nvram", reason: `the NVRAM ${i.nvram.path} was made for a ${i.nvram.variant} firmware but the firmware ${fw.codePath} is ${fw.variant}: give the Nvram the same FirmwareImage` });
  }

  list(i.disks).forEach((d, n) => {
    const p = `disks[${n}]`;
    checkAbsolutePath(f, `${p}.path`, d.path, "/var/lib/libvirt/images/web.qcow2");
    if (known(d.bus) && (d.bus as string) === "ide") f.push({ property: `${p}.bus`, reason: `IDE controllers are unsupported on q35 ("IDE controllers are unsupported for this QEMU binary or machine type"): use bus "sata" or "virtio"` });
    else if (known(d.bus) && !["virtio", "sata", "scsi"].includes(d.bus as string)) f.push({ property: `${p}.bus`, reason: `bus must be "virtio" (default), "sata" or "scsi", got ${JSON.stringify(d.bus)}` });
    if (known(d.format) && !["raw", "qcow2"].includes(d.format as string)) f.push({ property: `${p}.format`, reason: `format must be "raw" or "qcow2" (default: read from the file), got ${JSON.stringify(d.format)}` });
  });
  list(i.cdroms).forEach((c, n) => {
    const p = `cdroms[${n}]`;
    checkAbsolutePath(f, `${p}.path`, c.path, "/var/lib/libvirt/images/installer.iso");
    if (known(c.bus) && (c.bus as string) === "ide") f.push({ property: `${p}.bus`, reason: `IDE controllers are unsupported on q35: a CD-ROM goes on bus "sata" (the default)` });
    else if (known(c.bus) && !["sata", "scsi"].includes(c.bus as string)) f.push({ property: `${p}.bus`, reason: `bus must be "sata" (default) or "scsi"` });
  });
  list(i.networks).forEach((n, k) => {
    const p = `networks[${k}]`;
    if (known(n.mac) && (typeof n.mac !== "string" || !MAC.test(n.mac) || (parseInt(n.mac.slice(0, 2), 16) & 1) === 1)) {
      f.push({ property: `${p}.mac`, reason: `"${String(n.mac)}" is not a unicast MAC address like 52:54:00:12:34:56` });
    }
    if (n.network !== undefined && n.bridge !== undefined) f.push({ property: p, reason: "give network (a libvirt network) or bridge (a host bridge), not both" });
  });
  if (known(i.graphics)) {
    const g = i.graphics as NonNullable<DomainInputs["graphics"]>;
    if (!["vnc", "spice", "none"].includes(g.type)) f.push({ property: "graphics.type", reason: `graphics.type must be "vnc" (default), "spice" or "none"` });
    if (known(g.listen) && !(IPV4.test(g.listen as string) || (g.listen as string).includes(":"))) f.push({ property: "graphics.listen", reason: `graphics.listen must be an IP address (default 127.0.0.1)` });
  }
  if (known(i.serial)) {
    const s = i.serial as NonNullable<DomainInputs["serial"]>;
    if (!["file", "pty"].includes(s.type)) f.push({ property: "serial.type", reason: `serial.type must be "file" (default) or "pty"` });
    checkAbsolutePath(f, "serial.path", s.path, "/var/log/libvirt/qemu/web-serial.log");
  }
  list(i.hostdevs).forEach((h, n) => {
    const p = `hostdevs[${n}]`;
    if (known(h.address) && (typeof h.address !== "string" || !PCI.test(h.address))) f.push({ property: `${p}.address`, reason: `"${String(h.address)}" is not a PCI address like 0000:01:00.0 (see lspci -D on the host)` });
    checkAbsolutePath(f, `${p}.romFile`, h.romFile, "/usr/share/vgabios/gpu.rom");
    const first = list(i.hostdevs).findIndex((o) => known(o.address) && samePci(o.address, h.address));
    if (known(h.address) && first !== n) f.push({ property: `${p}.address`, reason: `${String(h.address)} is already hostdevs[${first}]: a device can be passed through once` });
  });
  if (known(i.devicesXml) && typeof i.devicesXml === "string" && /<\s*(disk|interface|hostdev)\b[^>]*\bbus=['"]ide['"]/.test(i.devicesXml)) {
    f.push({ property: "devicesXml", reason: "IDE is unsupported on q35: use sata" });
  }
  return f;
}
