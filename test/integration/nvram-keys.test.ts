import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setWarningSink } from "../../provider/engine-log.js";
import { readFile, sha256 } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { MICROSOFT_SETS } from "../../provider/nvram/microsoft-certs.js";
import type { NvramInputs, NvramOutputs } from "../../provider/nvram/model.js";
import { nvramProvider } from "../../provider/nvram/provider.js";
import { parseVarStore } from "../../provider/nvram/varstore.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { unmanagedUefiDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

// Nvram's secureBootKeys against the real test host: checked at preview by property, written at
// creation into the template's content, rewritten on change while no domain runs on the file.
const th = loadTestHost();
const conn = hostConnection("a");
const a = new Host(conn);
const id = randomUUID().slice(0, 8);
const domain = `ovmf-keys-it-${id}`;
const firmware = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", codeSize: 3_653_632, varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", variant: "4M" };
const file = `/var/lib/libvirt/qemu/nvram/${domain}_VARS.fd`;
// A real certificate: the EK certificate swtpm wrote (its key is not ours, which does not matter here).
const OWN = Buffer.from(readFileSync(path.join(__dirname, "../unit/golden/swtpm-0.7-tpm2-00.permall")).subarray(2538, 2538 + 1052)).toString("base64");
const PEM = `-----BEGIN CERTIFICATE-----\n${OWN.replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
const inputs = (extra: Partial<NvramInputs> = {}): NvramInputs => ({ connection: conn, firmware, path: file, ...extra });

const warnings: string[] = [];
setWarningSink((m) => void warnings.push(m));

afterEach(async () => {
  if (await virsh.exists(a, domain)) {
    await virsh.destroy(a, domain);
    await virsh.undefine(a, domain, "keep");
  }
  await a.run(["rm", "-f", "--", file]);
  warnings.length = 0;
});
afterAll(() => closeAll());

const failuresOf = async (extra: Partial<NvramInputs>, olds: Record<string, unknown> = {}) => (await nvramProvider.check(olds, inputs(extra) as unknown as Record<string, unknown>)).failures;

describe("Nvram secureBootKeys on a real host", () => {
  it("preview refuses bad keys by property, with the fix, and touches nothing", async () => {
    expect(await failuresOf({ secureBootKeys: { signatureDatabase: [PEM, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"] } })).toEqual([
      { property: "secureBootKeys.signatureDatabase[1]", reason: expect.stringMatching(/^is not an X\.509 certificate .*give the certificate's PEM text/) as string },
    ]);
    const bad = (await failuresOf({ secureBootKeys: { microsoft: "2025", forbidden: { sha256: ["abc"] }, kek: [PEM] } as never })).map((f) => f.property);
    expect(bad.sort()).toEqual(["secureBootKeys.forbidden.sha256[0]", "secureBootKeys.kek", "secureBootKeys.microsoft"]);
    // Ten certificates and Microsoft's both sets in db outgrow what a 2M build accepts for one variable.
    const many = { platformKey: PEM, signatureDatabase: Array.from({ length: 10 }, () => PEM), microsoft: "both" as const };
    const small = { ...firmware, codePath: "/usr/share/OVMF/OVMF_CODE.fd", codeSize: 1_966_080, varsTemplatePath: "/usr/share/OVMF/OVMF_VARS.fd", variant: "2M" };
    expect(await failuresOf({ firmware: small, secureBootKeys: many })).toEqual([
      { property: "secureBootKeys.signatureDatabase", reason: expect.stringMatching(/^db would take \d+ bytes, more than the 10240 a 2M OVMF build accepts .*or use a 4M firmware build$/) as string },
    ]);
    expect(await failuresOf({ secureBootKeys: many })).toEqual([]);
    expect(await a.run(["test", "-e", file])).toMatchObject({ code: 1 });
  });

  it("create writes the declared keys into the template's content: own PK, KEK and db, Microsoft's 2023 set, enforced", async () => {
    const { outs } = await nvramProvider.create(inputs({ secureBootKeys: { platformKey: PEM, keyExchangeKeys: [PEM], signatureDatabase: [PEM], microsoft: "2023" } }));
    expect(outs.varStore).toMatchObject({ secureBootEnforced: true, keys: { PK: 1, KEK: 2, db: 4, dbx: 1 }, microsoftCertificates: [...MICROSOFT_SETS["2023"]] });
    expect(outs.varStore?.signatures.PK[0]?.subject).toMatch(/CN=testvm:/);
    expect(await a.run(["stat", "-c", "%U:%G %a", file])).toMatchObject({ stdout: "root:root 600\n" });
    // Every variable of the template that is not a key is there as it was.
    const others = (b: Buffer) =>
      parseVarStore(b)
        .filter((v) => !["PK", "KEK", "db", "dbx", "SecureBootEnable", "CustomMode"].includes(v.name))
        .map((v) => `${v.name}/${v.data.toString("hex")}`);
    expect(others(await readFile(a, file))).toEqual(others(await readFile(a, firmware.varsTemplatePath)));
  });

  it("rotation on a file a domain no Q35Domain manages runs on is refused, the file unchanged; the warning names PCR 7", async () => {
    const first = await nvramProvider.create(inputs({ secureBootKeys: { microsoft: "2011" } }));
    await virsh.define(a, domain, uefiDomain());
    await virsh.start(a, domain);
    const before = await sha256(a, file);
    const news = inputs({ secureBootKeys: { microsoft: "both" } });
    expect(await failuresOf(news, inputs({ secureBootKeys: { microsoft: "2011" } }) as unknown as Record<string, unknown>)).toEqual([]);
    expect(warnings.join("\n")).toMatch(/changing secureBootKeys changes PK\/KEK\/db\/dbx, which the firmware measures into TPM PCR 7.*manage-bde -protectors -disable C: -RebootCount 2/);
    expect((await nvramProvider.diff("x", first.outs, news)).changes).toBe(true);
    const err = await rejection(nvramProvider.update("x", first.outs, news));
    expect(err.message).toMatch(new RegExp(`^cannot change the Secure Boot keys of NVRAM ${file} on ${a.target.replace(/[.]/g, "\\.")}: domain "${domain}" \\(running\\) uses it\\. Stop the domain first`));
    await virsh.destroy(a, domain);
    expect(await sha256(a, file)).not.toBe(""); // QEMU may have written to it, we did not
    // Shut off, the same update goes through: both sets, the PK of the template kept.
    const { outs } = await nvramProvider.update("x", first.outs, news);
    expect(outs.varStore).toMatchObject({ secureBootEnforced: true, microsoftCertificates: [...MICROSOFT_SETS.both] });
    expect(outs.sha256).not.toBe(before);
  });

  it("a file taken over gets the declared keys once; the same keys again write nothing", async () => {
    await a.check(["cp", firmware.varsTemplatePath, file], "cp");
    const keys = { secureBootKeys: { platformKey: PEM, microsoft: "both" as const } };
    const { outs } = await nvramProvider.create({ ...inputs(keys), adopt: true });
    expect(outs.varStore?.signatures.PK[0]?.subject).toMatch(/CN=testvm:/);
    const again: { outs: NvramOutputs } = await nvramProvider.create({ ...inputs(keys), adopt: true });
    expect(again.outs.sha256).toBe(outs.sha256);
  });
});

/** A diskless UEFI q35 domain on the file with SMM and the secure loader, defined outside any Q35Domain. */
function uefiDomain(): string {
  return unmanagedUefiDomain({ name: domain, domainType: th.domainType, codePath: firmware.codePath, nvramPath: file, secure: true });
}
