import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { info, warn } from "../engine-log.js";
import { OvmfError } from "../errors.js";
import { copyFileKeeping, stat } from "../host/files.js";
import type { Host } from "../host/host.js";
import { migrateLive, type MigrationStats } from "../libvirt/migrate.js";
import { domainsUsingNvram } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { NVRAM_MODE, NVRAM_OWNER, removeNvram } from "../nvram/placement.js";
import { copyStateOver, readPermall, removeState } from "../tpm-state/remote.js";
import type { DomainInputs } from "./spec.js";

type Ordered = Array<Record<string, unknown>>;
const ordered = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false, trimValues: false } as const;

/**
 * The running domain's migratable XML with its firmware (loader) and NVRAM paths set to the
 * destination's: the one difference a live host move may carry. Pure.
 */
export function withFirmwarePaths(xml: string, codePath: string, nvramPath: string): string {
  const doc = new XMLParser(ordered).parse(xml) as Ordered;
  const children = (node: Record<string, unknown> | undefined, tag: string): Ordered | undefined => node?.[tag] as Ordered | undefined;
  const domain = doc.find((n) => "domain" in n);
  const os = children(domain, "domain")?.find((n) => "os" in n);
  for (const el of children(os, "os") ?? []) {
    const tag = "loader" in el ? "loader" : "nvram" in el ? "nvram" : undefined;
    if (tag !== undefined) el[tag] = [{ "#text": tag === "loader" ? codePath : nvramPath }];
  }
  return new XMLBuilder({ ...ordered, format: false, suppressEmptyNode: true }).build(doc) as string;
}

/**
 * Where the old host's QEMU sends the migration data: `migrationAddress`, else the address in the
 * new host's connection (libvirt's own choice, the destination's host name, fails where that name
 * does not resolve, or resolves to localhost). An IPv6 address goes in brackets. Pure.
 */
export function migrationAddressOf(news: Pick<DomainInputs, "connection" | "migrationAddress">): string {
  if (news.migrationAddress !== undefined) return news.migrationAddress;
  const host = news.connection.host;
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** Where the host move found the domain. */
export type Found = { on: "old" | "new"; state: virsh.DomainState } | { on: "neither" };

async function locate(oldHost: Host, newHost: Host, name: string): Promise<Found> {
  const [onOld, onNew] = await Promise.all([virsh.stateIfExists(oldHost, name), virsh.stateIfExists(newHost, name)]);
  if (onOld !== undefined && onNew !== undefined) {
    throw new OvmfError(
      `domain "${name}" exists on both ${oldHost.target} (${onOld}) and ${newHost.target} (${onNew}): nothing was changed. ` +
        `Keep the one that is the VM (running, with its NVRAM), undefine the other (virsh undefine --keep-nvram --keep-tpm), and run pulumi up again.`,
    );
  }
  return onNew !== undefined ? { on: "new", state: onNew } : onOld !== undefined ? { on: "old", state: onOld } : { on: "neither" };
}

/**
 * A live migration writes the VM's NVRAM into the copy its Nvram put on the new host first (it moves
 * with it, hostMove "live"): without it the guest's variables would land in a file nobody owns
 * (libvirt would make one from a template, if it finds one), and the old file would be removed
 * after. (The TPM state needs no copy: libvirt sets it up from the migration stream.)
 */
async function requireMovedState(newHost: Host, news: DomainInputs): Promise<void> {
  if ((await stat(newHost, news.nvram.path)) === undefined) {
    throw new OvmfError(
      `cannot migrate domain "${news.name}" to ${newHost.target}: its NVRAM ${news.nvram.path} is not there. Move its Nvram (and TpmState) to the same connection ` +
        `with hostMove: "live" (SecureBootVm does), so that they go ahead of it; nothing was changed.`,
    );
  }
}

/**
 * libvirt clears the destination's TPM state when an incoming migration fails: the TpmState's copy
 * there is put back from the state the VM still runs on, so that the stack's record (the state is
 * on the new host) stays true for the retry. Best effort: the migration's own error is what counts.
 */
async function keepTpmCopy(oldHost: Host, newHost: Host, uuid: string | undefined): Promise<void> {
  if (uuid === undefined || (await readPermall(newHost, uuid)) !== undefined) return;
  await copyStateOver(oldHost, newHost, uuid);
}

/** After the VM runs on the new host: its old NVRAM file and TPM state go, unless another domain there uses them. */
async function removeOldState(oldHost: Host, olds: DomainInputs & { uuid: string }): Promise<void> {
  if ((await domainsUsingNvram(oldHost, olds.nvram.path)).length === 0) await removeNvram(oldHost, olds.nvram.path);
  const uuid = olds.tpmState?.uuid;
  if (uuid !== undefined && (await virsh.domainByUuid(oldHost, uuid)) === undefined) await removeState(oldHost, uuid);
}

/**
 * Moves the domain to the new host: migrated while it runs (hostMove "live"), else undefined on
 * the old host and defined on the new one (its NVRAM and TPM state moved already). Resumes a move
 * whose result never reached the stack (the domain is on the new host already).
 */
export async function moveHost(oldHost: Host, newHost: Host, olds: DomainInputs & { uuid: string }, news: DomainInputs, xml: string): Promise<MigrationStats | undefined> {
  const found = await locate(oldHost, newHost, news.name);
  let stats: MigrationStats | undefined;
  if (found.on === "old" && found.state !== "shut off") {
    await requireMovedState(newHost, news);
    const pathsChanged = olds.firmware.codePath !== news.firmware.codePath || olds.nvram.path !== news.nvram.path;
    const destinationXml = pathsChanged ? withFirmwarePaths(await migratable(oldHost, news.name), news.firmware.codePath, news.nvram.path) : undefined;
    stats = await migrateLive(oldHost, newHost, news.name, destinationXml, migrationAddressOf(news)).catch(async (err: unknown) => {
      await keepTpmCopy(oldHost, newHost, news.tpmState?.uuid).catch(() => undefined);
      throw err;
    });
    await info(
      `Q35Domain "${news.name}" moved live from ${oldHost.target} to ${newHost.target}` +
        (stats.downtimeMs === undefined ? "" : `: paused ${stats.downtimeMs} ms for the switch-over, ${((stats.elapsedMs ?? 0) / 1000).toFixed(1)} s in all`),
    );
    await removeOldState(oldHost, olds);
    return stats;
  }
  if (found.on === "new" && found.state !== "shut off") {
    // Resumed: it runs on the new host already (a migration whose result never reached the stack).
    // What is left on the old host is stale: the running guest's own files are the new host's.
    await removeOldState(oldHost, olds);
    return undefined;
  }
  // Shut off (or gone): a cold move. Its Nvram and TpmState moved their files already, unless the
  // VM still ran then (they left them for a migration): its NVRAM, final now, follows it.
  if (found.on === "old") await virsh.undefine(oldHost, news.name, "keep");
  if (found.on !== "new") await virsh.define(newHost, news.name, xml);
  if ((await stat(oldHost, olds.nvram.path)) !== undefined && (await domainsUsingNvram(oldHost, olds.nvram.path)).length === 0) {
    await copyFileKeeping(oldHost, olds.nvram.path, newHost, news.nvram.path, { mode: NVRAM_MODE, owner: NVRAM_OWNER, mkdir: true });
    await removeNvram(oldHost, olds.nvram.path);
  }
  const uuid = olds.tpmState?.uuid;
  if (uuid !== undefined && (await readPermall(oldHost, uuid)) !== undefined) {
    await warn(`Q35Domain "${news.name}" moved cold to ${newHost.target}; its TPM state ${uuid} is still on ${oldHost.target} as well (the VM stopped after its TpmState moved): remove the one you do not need.`);
  }
  return undefined;
}

async function migratable(host: Host, name: string): Promise<string> {
  const r = await host.check(["env", "LC_ALL=C", "virsh", "-q", "-c", virsh.LIBVIRT_URI, "dumpxml", "--migratable", "--", name], `dumpxml --migratable ${name}`);
  return r.stdout;
}
