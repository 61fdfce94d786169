import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FLEET_BURST } from "../../provider/coalesce.js";
import { sha256, stat, writeFileAtomic } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { deleteUnlessUsed } from "../../provider/nvram/placement.js";
import { MARK_SUFFIX, markPathOf } from "../../provider/nvram/ownership.js";
import { nvramProvider } from "../../provider/nvram/provider.js";
import type { NvramInputs } from "../../provider/nvram/model.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { unmanagedUefiDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

const th = loadTestHost();
const connA = hostConnection("a");
const a = new Host(connA);
const id = randomUUID().slice(0, 8);
const domain = `ovmf-nvram-it-${id}`;
const firmware = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", codeSize: 3_653_632, varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", variant: "4M" };
// As the SDK passes it: a create of this same resource again takes over its own file (a leftover).
const owner = { stack: "organization/ovmf-it/nvram", resource: `urn:pulumi:nvram::ovmf-it::pulumi-nodejs:dynamic/ovmf:Nvram::${domain}` };
const inputs: NvramInputs = { connection: connA, firmware, path: `/var/lib/libvirt/qemu/nvram/${domain}_VARS.fd`, owner };

/** A diskless UEFI q35 domain that uses the NVRAM file (no Secure Boot, so no SMM needed). */
const uefiDomain = () => unmanagedUefiDomain({ name: domain, domainType: th.domainType, codePath: firmware.codePath, nvramPath: inputs.path });

afterAll(async () => {
  if (await virsh.exists(a, domain)) {
    await virsh.destroy(a, domain);
    await virsh.undefine(a, domain, "keep");
  }
  await a.run(["rm", "-f", "--", inputs.path, markPathOf(inputs.path)]);
  closeAll();
});

describe("Nvram against a real libvirt domain", () => {
  it("creates the file from the template with libvirt's owner and mode", async () => {
    const { outs } = await nvramProvider.create(inputs);
    expect(outs).toMatchObject({ sizeBytes: 540_672, variant: "4M", resolvedTemplatePath: firmware.varsTemplatePath });
    expect(outs.sha256).toBe(await sha256(a, firmware.varsTemplatePath));
    expect(await stat(a, inputs.path)).toMatchObject({ mode: "600", owner: "root", group: "root" });
  });

  it("refuses to delete the file while a domain it does not know uses it, naming the domain", async () => {
    await virsh.define(a, domain, uefiDomain());
    const { props: outs } = await nvramProvider.read("x", (await nvramProvider.create(inputs)).outs);
    const err = await rejection(nvramProvider.delete("x", outs));
    expect(err.message).toBe(
      `cannot delete NVRAM ${inputs.path} on ${a.target}: domain "${domain}" (shut off) uses it. Undefine that domain first (virsh undefine --keep-nvram NAME) or point it at another NVRAM file, then retry.`,
    );
    expect(await stat(a, inputs.path)).toBeDefined();
  });

  it.each([
    ["in the host's virsh shell", "on"],
    ["without the shell", "off"],
  ])("deletes that reach a host together share one domain listing (%s) and one rm; a file a domain uses is refused on its own", async (_, shell) => {
    vi.stubEnv("PULUMI_OVMF_VIRSH_SHELL", shell);
    const trace = path.join(mkdtempSync(path.join(tmpdir(), "nvram-trace-")), "trace.jsonl");
    vi.stubEnv("PULUMI_OVMF_TRACE", trace);
    const host = new Host(connA);
    const paths = [1, 2, 3, 4].map((k) => `/var/lib/libvirt/qemu/nvram/${domain}-d${k}_VARS.fd`);
    const user = `${domain}-d3`;
    const runs = vi.spyOn(host, "run");
    try {
      for (const p of paths) await host.check(["cp", "--", firmware.varsTemplatePath, p], "copy");
      await virsh.define(host, user, unmanagedUefiDomain({ name: user, domainType: th.domainType, codePath: firmware.codePath, nvramPath: paths[2] ?? "" }));
      // After a pause longer than a burst (FLEET_BURST), the first delete goes alone, at once.
      await new Promise((ok) => setTimeout(ok, FLEET_BURST.burstMs + 50));
      runs.mockClear();
      const lone = deleteUnlessUsed(host, paths[0] ?? "");
      const together = paths.slice(1).map((p) => deleteUnlessUsed(host, p).then(() => "removed", (e: Error) => e.message));
      await lone;
      expect(await Promise.all(together)).toEqual([
        "removed",
        `cannot delete NVRAM ${paths[2]} on ${host.target}: domain "${user}" (shut off) uses it. Undefine that domain first (virsh undefine --keep-nvram NAME) or point it at another NVRAM file, then retry.`,
        "removed",
      ]);
      // The lone one: a listing and its own rm; the other three: one listing and one rm of the two free files.
      // The removal: one command for the files (and their owner marks) that no domain uses.
      // The refused file's owner mark is read (a file another resource took over would be left, not refused).
      const commands = runs.mock.calls.map(([argv]) =>
        argv[0] === "sh" && argv[4] === MARK_SUFFIX ? `rm -f -- ${argv.slice(5).filter((_, i) => i % 2 === 0).join(" ")}` : argv.includes(markPathOf(paths[2] ?? "")) ? "mark" : "listing",
      );
      if (shell === "on") {
        // The listings went to the shell (the trace shows each command it ran), the rms as before.
        expect(commands).toEqual([`rm -f -- ${paths[0]}`, "mark", `rm -f -- ${paths[1]} ${paths[3]}`]);
        const traced = readFileSync(trace, "utf8").split("\n").filter((l) => l.includes('"command":"virsh-shell list'));
        expect(traced).toHaveLength(2);
      } else expect(commands).toEqual(["listing", `rm -f -- ${paths[0]}`, "listing", "mark", `rm -f -- ${paths[1]} ${paths[3]}`]);
      for (const p of [paths[0], paths[1], paths[3]]) expect(await stat(host, p ?? ""), p).toBeUndefined();
      expect(await stat(host, paths[2] ?? "")).toBeDefined();
    } finally {
      runs.mockRestore();
      vi.unstubAllEnvs();
      if (await virsh.exists(host, user)) await virsh.undefine(host, user, "keep");
      await host.run(["rm", "-f", "--", ...paths]);
    }
  });

  it("refuses to move the file off a host where a running domain writes it, and says the order", async () => {
    await virsh.start(a, domain);
    const { props: outs } = await nvramProvider.read("x", (await nvramProvider.create(inputs)).outs);
    const err = await rejection(nvramProvider.update("x", outs, { ...inputs, connection: hostConnection("b") }));
    // Started just now: "running" (or "paused" while QEMU sets up); anything but "shut off" refuses.
    expect(err.message).toContain(`cannot move NVRAM ${inputs.path} on ${a.target}: domain "${domain}" (`);
    expect(err.message).not.toContain("(shut off)");
    expect(err.message).toContain("Stop the domain first");
    expect(await stat(new Host(hostConnection("b")), inputs.path)).toBeUndefined();
  });

  it("refuses an unmarked file; with adopt takes it over instead of overwriting it; refuses one of another size", async () => {
    await virsh.destroy(a, domain);
    await virsh.undefine(a, domain, "keep");
    const before = await sha256(a, inputs.path);
    // Its own file (marked by this resource's create) is taken over as it is; without the mark it is anybody's.
    expect((await nvramProvider.create(inputs)).outs.sha256).toBe(before);
    await a.check(["rm", "--", markPathOf(inputs.path)], "unmark");
    const refused = await rejection(nvramProvider.create(inputs));
    expect(refused.message).toContain(`the NVRAM file ${inputs.path} on ${a.target} already exists and no Nvram marked it as its own`);
    expect(refused.message).toContain("Set adopt: true");
    expect(await sha256(a, inputs.path)).toBe(before);
    expect((await nvramProvider.create({ ...inputs, adopt: true })).outs.sha256).toBe(before);
    await writeFileAtomic(a, inputs.path, Buffer.alloc(131_072, 0xff));
    const err = await rejection(nvramProvider.create({ ...inputs, adopt: true }));
    expect(err.message).toContain("already exists");
    expect(err.message).toContain("131072 bytes");
  });
});
