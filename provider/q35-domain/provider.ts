import { info, warn } from "../engine-log.js";
import { OvmfError } from "../errors.js";
import { stripProvider } from "../dynamic.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { emulatorOf, parseDomain, renderDomain, renderMetadata } from "../libvirt/domain-xml.js";
import { DomainNotRunningError } from "../libvirt/errors.js";
import { managedMetadata } from "../libvirt/nvram-users.js";
import { defineNew, failedAfterDefine } from "../libvirt/define-new.js";
import * as virsh from "../libvirt/virsh.js";
import { undefineIfOffShared } from "../libvirt/undefine-many.js";
import { blockedByLiveMove, classify, replacesWithUnknowns } from "./classify.js";
import { moveHost } from "./host-move.js";
import { probePciDevices } from "./hostdev-probe.js";
import { hostdevFailures } from "./hostdevs.js";
import { resolveDomainType } from "../libvirt/kvm-probe.js";
import { resolve, type DomainInputs } from "./spec.js";
import { observeDevices } from "../libvirt/domain-devices.js";
import { deviceDrift } from "./drift.js";
import { validateDomain } from "./validate.js";
import { checkDiskFormats, withDiskFormats } from "./disk-check.js";
import { identity, type Failure } from "../ssh/connection.js";
import { peerFailures } from "../peers.js";
import { mintOwnerId, ownerFor, type OwnerMark } from "../owner.js";
import { leaveToOthers, requireTakeover, takenNameFailures } from "./ownership.js";

export interface DomainOutputs extends DomainInputs {
  uuid: string;
  state: string;
  /** The versioned machine libvirt chose, e.g. pc-q35-7.2. */
  machine: string;
  resolvedDomainType: "kvm" | "qemu";
  /** The persistent definition as libvirt holds it. */
  xml: string;
  serialLogPath: string;
  /** The id of this resource's owner mark on the domain, minted at create (see provider/owner.ts). */
  ownerId?: string;
}

async function desired(host: Host, inputs: DomainInputs) {
  const secureBoot = inputs.secureBoot ?? inputs.firmware.features.includes("secure-boot");
  const emulator = emulatorOf(inputs.devicesXml);
  const type = await resolveDomainType(host, inputs.domainType, {
    codePath: inputs.firmware.codePath,
    varsTemplatePath: inputs.firmware.varsTemplatePath,
    secureBoot,
    needsSmm: secureBoot || inputs.firmware.features.includes("requires-smm"),
    cpuMode: inputs.cpuMode ?? "host-passthrough",
    ...(inputs.cpuModel === undefined ? {} : { cpuModel: inputs.cpuModel }),
    ...(emulator === undefined ? {} : { emulator }),
  });
  return resolve(inputs, type);
}

/** A failed start says what the operation left behind; other errors pass unchanged. */
function leftBehind(err: unknown, outcome: string): unknown {
  return err instanceof DomainNotRunningError ? err.withOutcome(outcome) : err;
}

async function setAutostart(host: Host, name: string, on: boolean): Promise<void> {
  await host.check(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "autostart", ...(on ? [] : ["--disable"]), "--", name], `autostart ${name}`);
}

async function autostartOf(host: Host, name: string): Promise<boolean> {
  const r = await host.check(["env", "LC_ALL=C", "virsh", "-q", "-c", virsh.LIBVIRT_URI, "dominfo", "--", name], `dominfo ${name}`);
  return /^Autostart:\s+enable/m.test(r.stdout);
}

async function outputs(host: Host, inputs: DomainInputs, type: "kvm" | "qemu", serialLogPath: string, owner: OwnerMark | undefined, read?: { xml: string; state: string }): Promise<DomainOutputs> {
  const { xml, state } = read ?? (await virsh.describe(host, inputs.name));
  const observed = parseDomain(xml);
  return { ...inputs, uuid: observed.uuid, state, machine: observed.machine, resolvedDomainType: type, xml, serialLogPath, ...(owner === undefined ? {} : { ownerId: owner.id }) };
}

/** The owner mark an existing resource writes: its recorded id (one minted for a state from before owner marks). */
function ownerOf(inputs: DomainInputs, olds: DomainOutputs): OwnerMark | undefined {
  return inputs.owner === undefined ? undefined : { ...inputs.owner, id: olds.ownerId ?? mintOwnerId() };
}

/** Brings the domain to its desired power state. */
async function applyPower(host: Host, name: string, running: boolean, timeout: number): Promise<void> {
  const state = await virsh.domstate(host, name);
  if (running && state === "shut off") await virsh.start(host, name);
  if (!running && state !== "shut off") await virsh.shutdown(host, name, timeout);
}

/** Problems of the PCI passthrough devices on the host (read-only, from its sysfs). */
async function hostdevProblems(host: Host, inputs: DomainInputs): Promise<Failure[]> {
  const hostdevs = inputs.hostdevs ?? [];
  if (hostdevs.length === 0) return [];
  return hostdevFailures(hostdevs, await probePciDevices(host, hostdevs.map((h) => h.address)), host.target);
}

/**
 * At preview the host's devices are a warning, not a failure: the host may get its GPU or its
 * IOMMU before `pulumi up`, which refuses while they are missing. Skipped while the connection or
 * the devices are unknown, and when the host cannot be reached (the operation then says why).
 */
async function warnAboutHostdevs(inputs: DomainInputs): Promise<void> {
  if ((inputs.hostdevs ?? []).length === 0 || hasUnknowns([inputs.connection, inputs.hostdevs])) return;
  const problems = await hostdevProblems(new Host(inputs.connection), inputs).catch(() => []);
  for (const p of problems) await warn(`Q35Domain "${inputs.name}": ${p.property}: ${p.reason}. pulumi up refuses this domain until that is fixed.`);
}

/** Refuses, before anything on the host changes, devices the host cannot pass through. */
async function requireHostdevs(host: Host, inputs: DomainInputs): Promise<void> {
  const problems = await hostdevProblems(host, inputs);
  if (problems.length > 0) {
    throw new OvmfError(`domain "${inputs.name}" cannot get its PCI devices on ${host.target}, so nothing was changed: ${problems.map((p) => `${p.property}: ${p.reason}`).join("; ")}`);
  }
}

export const q35DomainProvider = {
  async check(rawOlds: Record<string, unknown> | undefined, news: Record<string, unknown>) {
    const inputs = stripProvider(news) as unknown as DomainInputs;
    const failures = validateDomain(inputs);
    if (failures.length === 0) failures.push(...peerFailures("Q35Domain", inputs.connection, inputs.peers));
    const olds = stripProvider(rawOlds ?? {}) as unknown as Partial<DomainInputs>;
    if (failures.length === 0 && olds.connection !== undefined && inputs.hostMove === "live" && !hasUnknowns(inputs)) {
      for (const property of blockedByLiveMove(olds as DomainInputs, inputs)) {
        failures.push({
          property,
          reason: `hostMove "live" migrates the running VM as it is, and a change of ${property} needs a restart (or a new domain): make it in a pulumi up before or after the host move, or set hostMove: "cold"`,
        });
      }
    }
    if (failures.length === 0) {
      // Side by side: a host that cannot be reached costs its dial retries once.
      const [, disks] = await Promise.all([warnAboutHostdevs(inputs), checkDiskFormats(olds, inputs)]);
      failures.push(...disks.failures);
      // The formats read are recorded with the inputs, so the next preview needs no SSH for them.
      if (disks.disks !== undefined) inputs.disks = disks.disks;
    }
    if (failures.length === 0) failures.push(...(await takenNameFailures(olds, inputs).catch(() => [])));
    return { inputs: inputs as unknown as Record<string, unknown>, failures };
  },

  async diff(_id: string, olds: DomainOutputs, news: DomainInputs) {
    if (news.hostMove === "live" && !hasUnknowns([news.connection.host, news.connection.port]) && identity(olds.connection) !== identity(news.connection)) {
      await info(`Q35Domain "${olds.name}" moves live from ${identity(olds.connection)} to ${identity(news.connection)}: migrated while it runs, no reboot (if it is shut off, it moves cold)`);
    }
    if (hasUnknowns(news)) return { changes: true, replaces: replacesWithUnknowns(olds, news), deleteBeforeReplace: true };
    const c = classify(olds, news);
    // The old domain goes first: two domains must never run on one NVRAM file.
    return { changes: c.changed.length > 0, replaces: c.changed.filter((x) => x.kind === "replace").map((x) => x.property), deleteBeforeReplace: true };
  },

  async create(raw: DomainInputs) {
    // Disk formats are read from the files before anything is defined: never guessed.
    const inputs = await withDiskFormats(stripProvider(raw) as unknown as DomainInputs);
    const host = new Host(inputs.connection);
    await requireHostdevs(host, inputs);
    const d = await desired(host, inputs);
    let owner = ownerFor(inputs.owner, undefined);
    // The common case, a name not taken yet, is one remote command: define, autostart, read back.
    const fresh = await defineNew(host, inputs.name, renderDomain(d, inputs.tpmState?.uuid, owner), d.autostart).catch(async (err: unknown) => {
      if (failedAfterDefine(err)) await virsh.undefine(host, inputs.name, "keep").catch(() => undefined);
      throw err;
    });
    let adopted: string | undefined;
    if (!fresh.defined) {
      const existing = await virsh.dumpxml(host, inputs.name, true);
      // Only this resource's own leftover (an earlier create of it whose result was lost) is taken
      // over without adopt; another resource's domain, or one nobody marked, is refused.
      await requireTakeover(host, existing, inputs);
      owner = ownerFor(inputs.owner, managedMetadata(existing)?.owner);
      adopted = parseDomain(existing).uuid;
      if (inputs.tpmState !== undefined && adopted !== inputs.tpmState.uuid) {
        throw new OvmfError(
          `domain "${inputs.name}" on ${host.target} has UUID ${adopted}, but its TpmState has ${inputs.tpmState.uuid}: a domain's UUID names its TPM state. ` +
            `Give the TpmState uuid: "${adopted}" (SecureBootVm: tpmUuid) to adopt this domain's TPM, or choose another name`,
        );
      }
      await virsh.shutdown(host, inputs.name, d.shutdownTimeoutSeconds);
      await virsh.define(host, inputs.name, renderDomain(d, adopted, owner));
    }
    try {
      if (adopted !== undefined) await setAutostart(host, inputs.name, d.autostart);
      if (d.running) await virsh.start(host, inputs.name);
    } catch (err) {
      // Roll back the definition, never the NVRAM. (A start that failed left the domain off.)
      if (adopted === undefined) await virsh.undefine(host, inputs.name, "keep").catch(() => undefined);
      throw leftBehind(
        err,
        adopted === undefined
          ? "It was powered off and its definition removed; its NVRAM file is kept. Nothing was created."
          : "The adopted domain is left defined with these inputs and shut off; its NVRAM file is kept.",
      );
    }
    // Read back once more only when something changed it since the define.
    const outs = await outputs(host, inputs, d.domainType, d.serial.path, owner, fresh.defined && !d.running ? fresh : undefined);
    return { id: `${host.target}/${outs.uuid}`, outs };
  },

  async update(_id: string, olds: DomainOutputs, rawNews: DomainInputs) {
    const news = await withDiskFormats(stripProvider(rawNews) as unknown as DomainInputs, olds);
    const host = new Host(news.connection);
    await requireHostdevs(host, news);
    const d = await desired(host, news);
    const c = classify(olds, news);
    const owner = ownerOf(news, olds);
    if (c.changed.some((x) => x.kind === "move")) {
      await moveHost(new Host(olds.connection), host, olds, news, renderDomain(d, olds.uuid, owner));
      if (d.autostart) await setAutostart(host, news.name, true);
      await applyPower(host, news.name, d.running, d.shutdownTimeoutSeconds);
      return { outs: await outputs(host, news, d.domainType, d.serial.path, owner) };
    }
    const redefine = c.changed.some((x) => x.kind === "restart");
    if (redefine) {
      const wasRunning = (await virsh.domstate(host, news.name)) !== "shut off";
      if (wasRunning) await virsh.shutdown(host, news.name, d.shutdownTimeoutSeconds);
      await virsh.define(host, news.name, renderDomain(d, olds.uuid, owner));
    } else if (owner !== undefined && (olds.ownerId === undefined || JSON.stringify(olds.owner) !== JSON.stringify(news.owner))) {
      // A state from before owner marks, or a resource renamed with aliases: the mark is written
      // into the persistent definition's metadata alone, without a restart.
      await virsh.setMetadata(host, news.name, renderMetadata(d, owner));
    }
    if (JSON.stringify(olds.autostart) !== JSON.stringify(news.autostart)) await setAutostart(host, news.name, d.autostart);
    try {
      await applyPower(host, news.name, d.running, d.shutdownTimeoutSeconds);
    } catch (err) {
      if (!(err instanceof DomainNotRunningError)) throw err;
      if (!redefine) throw err.withOutcome("It is left defined and shut off; fix the cause and run pulumi up again.");
      // A failed update keeps the old inputs in the stack state: the host keeps the matching
      // definition, so that the next preview still shows the change (and a revert shows none).
      await virsh.define(host, news.name, olds.xml);
      throw err.withOutcome(
        "It is left defined and shut off, with its previous definition put back (the stack keeps the old inputs); " +
          "fix the cause and run pulumi up again, or, to keep the old settings, revert the change and run pulumi up --refresh to start it.",
      );
    }
    return { outs: await outputs(host, news, d.domainType, d.serial.path, owner) };
  },

  /** Reads the domain back and reports only what the inputs specify; a domain gone is gone. */
  async read(id: string, props: DomainOutputs) {
    const olds = stripProvider(props) as unknown as DomainOutputs;
    const host = new Host(olds.connection);
    if (!(await virsh.exists(host, olds.name))) return { id: "", props: {} };
    const xml = await virsh.dumpxml(host, olds.name, true);
    const o = parseDomain(xml);
    const state = await virsh.domstate(host, olds.name);
    const autostart = await autostartOf(host, olds.name);
    const running = state !== "shut off";
    const props2: DomainOutputs = {
      ...olds,
      memoryMiB: o.memoryMiB,
      vcpus: o.vcpus,
      ...(olds.secureBoot !== undefined || o.secureBoot !== (olds.firmware.features.includes("secure-boot")) ? { secureBoot: o.secureBoot } : {}),
      ...(running === (olds.running ?? true) ? {} : { running }),
      ...(autostart === (olds.autostart ?? false) ? {} : { autostart }),
      // Disks, CD-ROMs, NICs, the display and passed-through devices, where they differ from the inputs.
      ...deviceDrift(olds, observeDevices(xml)),
      uuid: o.uuid,
      state,
      machine: o.machine,
      xml,
    };
    if (o.nvramPath !== olds.nvram.path) props2.nvram = { ...olds.nvram, path: o.nvramPath };
    // The observed values become the inputs the next diff compares, so `pulumi preview` shows the
    // drift as "memoryMiB: 300 => 256".
    const { uuid: _u, state: _s, machine: _m, resolvedDomainType: _t, xml: _x, serialLogPath: _l, ownerId: _o, ...inputs } = props2;
    return { id, props: props2, inputs };
  },

  /** Shuts the domain down and undefines it; the NVRAM file stays (it belongs to its Nvram). */
  async delete(_id: string, props: DomainOutputs) {
    const host = new Host(props.connection);
    // Never what another resource took over (adopt), nor another domain that took the name.
    if ((await leaveToOthers(host, props.name, props.uuid, props.ownerId)) !== "ours") return;
    // A domain that is off goes in one remote command; a running one is shut down first.
    const found = await undefineIfOffShared(host, props.name);
    if (found === "gone" || found === "undefined") return;
    if (found !== "old libvirt") await virsh.shutdown(host, props.name, props.shutdownTimeoutSeconds ?? 60);
    await virsh.undefine(host, props.name, "keep");
  },
};
