import { randomBytes } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { MigrationError, migrateLive } from "../../provider/libvirt/migrate.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

// The live migration primitive between test hosts a and b, as a user with passwordless sudo (the
// socket the source's sshd listens on belongs to that user; virsh and virt-ssh-helper run as root).
const th = loadTestHost();
const asSudoUser = (name: string) => new Host({ ...hostConnection(name), user: th.users.sudo, sudo: true });
const a = asSudoUser("a");
const b = asSudoUser("b");
const name = `ovmf-migrate-${randomBytes(3).toString("hex")}`;
const xml = new XMLBuilder({ ignoreAttributes: false }).build({
  domain: { "@_type": th.domainType, name, memory: { "@_unit": "MiB", "#text": 64 }, vcpu: 1, os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } } },
}) as string;
const reason = async (host: Host) => (await host.check(["env", "LC_ALL=C", "virsh", "-c", virsh.LIBVIRT_URI, "domstate", "--reason", "--", name], "domstate")).stdout.trim();
const sockets = async (host: Host) => (await host.run(["sh", "-c", "ls /tmp/pulumi-ovmf-migrate-* 2>/dev/null || true"])).stdout.trim();

afterAll(async () => {
  for (const h of [a, b]) {
    if ((await virsh.stateIfExists(h, name)) === undefined) continue;
    await virsh.destroy(h, name).catch(() => undefined);
    await virsh.undefine(h, name, "keep");
  }
  closeAll();
});

describe("migrateLive", () => {
  it("moves a running domain to the other host through the provider's own connections, and reports the pause", async () => {
    await virsh.define(a, name, xml);
    await virsh.start(a, name);
    const stats = await migrateLive(a, b, name, undefined);
    expect(stats.downtimeMs).toBeGreaterThan(0);
    expect(stats.elapsedMs).toBeGreaterThanOrEqual(stats.downtimeMs ?? 0);
    expect(await reason(b)).toBe("running (migrated)");
    expect(await virsh.stateIfExists(a, name)).toBeUndefined();
    // Defined on b too (persistent), and nothing left of the tunnel on a.
    expect(await virsh.dumpxml(b, name, true)).toContain(`<name>${name}</name>`);
    expect(await sockets(a)).toBe("");
  });

  it("a migration that fails leaves the domain running where it was, with libvirt's reason and what to check", async () => {
    const err = await rejection(migrateLive(b, a, name, undefined, "10.255.255.1"));
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.message).toMatch(new RegExp(`live migration of domain "${name}" from ${b.target.replace(/[.+]/g, "\\$&")} to ${a.target.replace(/[.+]/g, "\\$&")} failed: .*10\\.255\\.255\\.1`));
    expect(err.message).toContain("migrationAddress");
    expect(await virsh.domstate(b, name)).toBe("running");
    expect(await virsh.stateIfExists(a, name)).toBeUndefined();
    expect(await sockets(b)).toBe("");
  });
});
