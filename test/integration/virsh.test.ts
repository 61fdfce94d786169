import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FLEET_BURST } from "../../provider/coalesce.js";
import { Host } from "../../provider/host/host.js";
import { DomainExistsError, DomainNotFoundError, InvalidDomainXmlError } from "../../provider/libvirt/errors.js";
import { defineNew, failedAfterDefine } from "../../provider/libvirt/define-new.js";
import { definitions } from "../../provider/libvirt/definitions.js";
import { undefineIfOffShared } from "../../provider/libvirt/undefine-many.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { loadTestHost, testConnection } from "../support/testhost.js";

const th = loadTestHost();
const host = new Host(testConnection(th));
const name = `ovmf-it-${randomUUID().slice(0, 8)}`;

/** A tiny diskless q35 domain: enough to define, start and stop. */
function tinyDomain(domainName: string, uuid?: string, description?: string): string {
  return new XMLBuilder({ ignoreAttributes: false, format: true }).build({
    domain: {
      "@_type": th.domainType,
      name: domainName,
      ...(uuid === undefined ? {} : { uuid }),
      ...(description === undefined ? {} : { description }),
      memory: { "@_unit": "MiB", "#text": 64 },
      vcpu: 1,
      os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } },
    },
  }) as string;
}

afterAll(async () => {
  if (await virsh.exists(host, name)) {
    await virsh.destroy(host, name);
    await virsh.undefine(host, name, "keep");
  }
  closeAll();
});

describe("virsh on the test host", () => {
  it("defines, lists, starts, shuts down (ACPI ignored → destroy after the timeout) and undefines", async () => {
    await virsh.define(host, name, tinyDomain(name));
    expect(await virsh.list(host)).toContain(name);
    expect(await virsh.domstate(host, name)).toBe("shut off");
    expect(await virsh.dumpxml(host, name, true)).toContain(`<name>${name}</name>`);
    await virsh.start(host, name);
    expect(await virsh.domstate(host, name)).toBe("running");
    expect(await virsh.dumpxml(host, name)).toMatch(/machine='pc-q35-[\d.]+'/);
    // No guest OS answers ACPI, so the graceful shutdown times out and the domain is powered off.
    expect(await virsh.shutdown(host, name, 2, 250)).toBe("destroyed");
    expect(await virsh.domstate(host, name)).toBe("shut off");
    expect(await virsh.shutdown(host, name, 2)).toBe("already off");
    await virsh.undefine(host, name, "keep");
    expect(await virsh.exists(host, name)).toBe(false);
  });

  it("types the failures and names host, domain and operation", async () => {
    const missing = await rejection(virsh.domstate(host, `${name}-missing`));
    expect(missing).toBeInstanceOf(DomainNotFoundError);
    expect(missing.message).toContain(`virsh domstate of domain "${name}-missing" on ${host.target} failed`);

    await virsh.define(host, name, tinyDomain(name));
    const clash = await rejection(virsh.define(host, name, tinyDomain(name, randomUUID())));
    expect(clash).toBeInstanceOf(DomainExistsError);
    await virsh.undefine(host, name, "keep");

    const broken = `${name}-broken`;
    const invalid = await rejection(virsh.define(host, broken, "<domain type='kvm'><name>x</name>"));
    expect(invalid).toBeInstanceOf(InvalidDomainXmlError);
    expect(await virsh.exists(host, broken)).toBe(false);
  });

  it("defineNew defines, sets autostart and reads back in one command; a taken name is left alone; a failing step is named", async () => {
    const fresh = await defineNew(host, name, tinyDomain(name), true);
    expect(fresh).toMatchObject({ defined: true, state: "shut off" });
    expect(fresh.defined && fresh.xml).toBe(await virsh.dumpxml(host, name, true));
    expect((await host.check(["env", "LC_ALL=C", "virsh", "-c", virsh.LIBVIRT_URI, "dominfo", "--", name], "dominfo")).stdout).toMatch(/^Autostart:\s+enable/m);
    expect(await virsh.describe(host, name)).toEqual({ state: "shut off", xml: fresh.defined ? fresh.xml : "" });

    // The name is taken: nothing is redefined (the UUID stays), only the state comes back.
    const uuid = /<uuid>([^<]+)<\/uuid>/.exec(fresh.defined ? fresh.xml : "")?.[1];
    expect(await defineNew(host, name, tinyDomain(name, randomUUID()), false)).toEqual({ defined: false, state: "shut off" });
    expect(await virsh.dumpxml(host, name, true)).toContain(`<uuid>${uuid}</uuid>`);
    // Without a UUID (no look first: libvirt's define refuses the taken name): the same, the
    // domain as it was.
    const before = await virsh.dumpxml(host, name, true);
    expect(await defineNew(host, name, tinyDomain(name, undefined, "other"), false)).toEqual({ defined: false, state: "shut off" });
    expect(await virsh.dumpxml(host, name, true)).toBe(before);
    await virsh.undefine(host, name, "keep");
    const plain = await defineNew(host, name, tinyDomain(name), false);
    expect(plain).toMatchObject({ defined: true, state: "shut off" });
    expect(plain.defined && plain.xml).toBe(await virsh.dumpxml(host, name, true));
    await virsh.undefine(host, name, "keep");

    const broken = `${name}-broken`;
    const invalid = await rejection(defineNew(host, broken, "<domain type='kvm'><name>x</name>", false));
    expect(invalid).toBeInstanceOf(InvalidDomainXmlError);
    expect(invalid.message).toContain(`virsh define of domain "${broken}" on ${host.target} failed`);
    expect(failedAfterDefine(invalid)).toBe(false);
    expect(await virsh.exists(host, broken)).toBe(false);

    // A name virsh's command line would need quoting for takes the one-virsh-per-step path: same result.
    const odd = `${name} odd'name`;
    try {
      const quoted = await defineNew(host, odd, tinyDomain(odd), false);
      expect(quoted).toMatchObject({ defined: true, state: "shut off" });
      expect(quoted.defined && quoted.xml).toBe(await virsh.dumpxml(host, odd, true));
      const brokenOdd = await rejection(defineNew(host, `${odd}-broken`, "<domain type='kvm'><name>x</name>", false));
      expect(brokenOdd).toBeInstanceOf(InvalidDomainXmlError);
      expect(failedAfterDefine(brokenOdd)).toBe(false);
    } finally {
      if (await virsh.exists(host, odd)) await virsh.undefine(host, odd, "keep");
    }

    const gone = await rejection(virsh.describe(host, `${name}-missing`));
    expect(gone).toBeInstanceOf(DomainNotFoundError);
    expect(gone.message).toContain(`virsh dumpxml of domain "${name}-missing"`);
  });

  it("definitions lists every domain with its state and persistent XML, plain names in one virsh batch and names that need quoting one by one", async () => {
    const plain = `${name}-plain`;
    const odd = `${name} odd'name`;
    try {
      await virsh.define(host, plain, tinyDomain(plain));
      await virsh.define(host, odd, tinyDomain(odd));
      const all = await definitions(host);
      for (const d of [plain, odd]) {
        const found = all.find((x) => x.domain === d);
        expect(found, d).toEqual({ domain: d, state: "shut off", xml: await virsh.dumpxml(host, d, true) });
      }
      expect(all.map((x) => x.domain).sort()).toEqual((await virsh.list(host)).sort());
    } finally {
      for (const d of [plain, odd]) if (await virsh.exists(host, d)) await virsh.undefine(host, d, "keep");
    }
  });

  it("undefineIfOff undefines a domain that is off, reports one that is gone, and leaves a running one alone", async () => {
    const d = `${name}-off`;
    try {
      await virsh.define(host, d, tinyDomain(d));
      expect(await virsh.undefineIfOff(host, d)).toBe("undefined");
      expect(await virsh.exists(host, d)).toBe(false);
      expect(await virsh.undefineIfOff(host, d)).toBe("gone");
      await virsh.define(host, d, tinyDomain(d));
      await host.check(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "start", "--", d], "start");
      expect(await virsh.undefineIfOff(host, d)).toEqual({ state: "running" });
      expect(await virsh.domstate(host, d)).toBe("running");
    } finally {
      if (await virsh.exists(host, d)) {
        await virsh.destroy(host, d);
        await virsh.undefine(host, d, "keep");
      }
    }
  });

  it.each([
    ["in the host's virsh shell, with no other remote command", "on"],
    ["without the shell, as a batch: the off ones undefined with NVRAM kept, a running one left alone, a missing one gone, an odd name on its own", "off"],
  ])("undefines that reach a host together go %s", async (_, shell) => {
    vi.stubEnv("PULUMI_OVMF_VIRSH_SHELL", shell);
    const off = [1, 2, 3].map((i) => `${name}-b${i}`);
    const running = `${name}-brun`;
    const odd = `${name} b'odd`;
    const missing = `${name}-bmissing`;
    const nvram = `/var/lib/libvirt/qemu/nvram/${name}-b2_VARS.fd`;
    const withNvram = (d: string) => tinyDomain(d).replace("</os>", `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram>${nvram}</nvram></os><features><acpi/></features>`);
    const runs = vi.spyOn(host, "run");
    try {
      for (const d of [...off, running, odd]) await virsh.define(host, d, d === off[1] ? withNvram(d) : tinyDomain(d));
      await host.check(["touch", "--", nvram], "touch");
      await host.check(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "start", "--", running], "start");
      // After a pause longer than a burst (FLEET_BURST), the first undefine goes alone, at once.
      await new Promise((ok) => setTimeout(ok, FLEET_BURST.burstMs + 50));
      runs.mockClear();
      const lone = undefineIfOffShared(host, off[0] ?? "");
      const together = [off[1], off[2], running, missing, odd].map((d) => undefineIfOffShared(host, d ?? ""));
      expect(await lone).toBe("undefined");
      expect(await Promise.all(together)).toEqual(["undefined", "undefined", { state: "running" }, "gone", "undefined"]);
      if (shell === "on") {
        // Each undefine was a state and an undefine in the one virsh the shell keeps open.
        expect(runs.mock.calls).toHaveLength(0);
        return;
      }
      // The lone one went its own way; of the others, the plain names shared two virsh processes
      // (states, then undefines) and the missing and odd ones went one by one.
      const batches = runs.mock.calls.filter(([argv]) => argv.includes("virsh")).map(([argv]) => argv.at(-1) ?? "");
      expect(batches).toHaveLength(2);
      expect(batches[0]).toContain(`domstate -- ${running};`);
      expect(batches[1]).toContain(`undefine --keep-nvram --keep-tpm -- ${off[2]};`);
      expect(batches[1]).not.toContain(running);
      expect(runs.mock.calls).toHaveLength(5); // lone, states batch, undefines batch, missing, odd
      for (const d of [...off, odd]) expect(await virsh.exists(host, d), d).toBe(false);
      expect(await virsh.domstate(host, running)).toBe("running");
      expect((await host.run(["test", "-f", nvram])).code).toBe(0);
    } finally {
      runs.mockRestore();
      vi.unstubAllEnvs();
      if (await virsh.exists(host, running)) await virsh.destroy(host, running);
      for (const d of [...off, running, odd]) if (await virsh.exists(host, d)) await virsh.undefine(host, d, "keep");
      await host.run(["rm", "-f", "--", nvram]);
    }
  });
});
