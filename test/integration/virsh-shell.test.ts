import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Host } from "../../provider/host/host.js";
import { definitions } from "../../provider/libvirt/definitions.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeShells, SHELL_IDLE_MS } from "../../provider/libvirt/virsh-shell.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { pidsMatching } from "../support/sshd.js";
import { loadTestHost, testConnection } from "../support/testhost.js";

const th = loadTestHost();
const host = new Host(testConnection(th));
const base = `ovmf-it-sh-${randomUUID().slice(0, 8)}`;
// Plain names, one to quote, and one longer than a terminal line (readline would scroll its echo).
const names = [0, 1, 2, 3, 4, 5, 6].map((i) => (i === 5 ? `${base} it's odd` : i === 6 ? `${base}-${"long".repeat(45)}` : `${base}-${i}`));
// The shell is the one virsh on the host started without a command (the host is this machine).
const SHELL = `^virsh -q -c ${virsh.LIBVIRT_URI}$`;

const tiny = (name: string) =>
  new XMLBuilder({ ignoreAttributes: false }).build({
    domain: { "@_type": th.domainType, name, memory: { "@_unit": "MiB", "#text": 64 }, vcpu: 1, os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } } },
  }) as string;

afterAll(async () => {
  vi.restoreAllMocks();
  for (const d of names) if (await virsh.exists(host, d)) await virsh.undefine(host, d, "keep");
  closeShells();
  closeAll();
});

describe("the host's virsh shell", () => {
  it("answers many reads at once from one virsh, each with its own domain's answer, and closes when idle", async () => {
    for (const d of names) await virsh.define(host, d, tiny(d));
    const runs = vi.spyOn(host, "run");
    const streams = vi.spyOn(host, "openStream");
    try {
      const [states, xmls, missing] = await Promise.all([
        Promise.all(names.map((d) => virsh.domstate(host, d))),
        Promise.all(names.map((d) => virsh.dumpxml(host, d, true))),
        virsh.stateIfExists(host, `${base}-missing`),
      ]);
      expect(states).toEqual(names.map(() => "shut off"));
      for (const [i, d] of names.entries()) expect(xmls[i]).toContain(`<name>${d.replace("'", "&apos;")}</name>`);
      expect(missing).toBeUndefined();
      const defs = (await definitions(host)).filter((d) => d.domain.startsWith(base));
      expect(defs.map((d) => d.domain).sort()).toEqual([...names].sort());
      // All of it in the one shell: no other remote command, one virsh process on the host.
      expect(runs).not.toHaveBeenCalled();
      expect(streams).toHaveBeenCalledTimes(1);
      expect(pidsMatching(SHELL)).toHaveLength(1);
    } finally {
      runs.mockRestore();
      streams.mockRestore();
    }
    await new Promise((r) => setTimeout(r, SHELL_IDLE_MS + 500));
    expect(pidsMatching(SHELL)).toHaveLength(0);
  });

  it("gives the right answers when the connection is cut under it (the commands go the one-process way)", async () => {
    expect(await virsh.domstate(host, names[0] ?? "")).toBe("shut off");
    const runs = vi.spyOn(host, "run");
    try {
      const pending = Promise.all(names.map((d) => virsh.describe(host, d)));
      closeAll();
      const described = await pending;
      expect(described.map((d) => d.state)).toEqual(names.map(() => "shut off"));
      for (const [i, d] of names.entries()) expect(described[i]?.xml).toContain(`<name>${d.replace("'", "&apos;")}</name>`);
      expect(runs).toHaveBeenCalled();
    } finally {
      runs.mockRestore();
    }
  });

  it("leaves a name outside printable ASCII to the one-process way, with the right answer", async () => {
    const name = `${base}-ünï`;
    names.push(name);
    await virsh.define(host, name, tiny(name));
    const runs = vi.spyOn(host, "run");
    try {
      expect(await virsh.domstate(host, name)).toBe("shut off");
      expect(runs).toHaveBeenCalledTimes(1);
    } finally {
      runs.mockRestore();
    }
  });

  it("is not used with PULUMI_OVMF_VIRSH_SHELL=off", async () => {
    closeShells();
    vi.stubEnv("PULUMI_OVMF_VIRSH_SHELL", "off");
    const streams = vi.spyOn(host, "openStream");
    try {
      expect(await virsh.domstate(host, names[1] ?? "")).toBe("shut off");
      expect(streams).not.toHaveBeenCalled();
    } finally {
      streams.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});
