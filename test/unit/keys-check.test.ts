import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { UNKNOWN } from "../../provider/dynamic.js";
import { checkSecureBootKeys } from "../../provider/nvram/keys-check.js";

const OWN = Buffer.from(readFileSync(path.join(__dirname, "golden/swtpm-0.7-tpm2-00.permall")).subarray(2538, 2538 + 1052)).toString("base64");
const isUnknown = (v: unknown) => v === UNKNOWN;
const props = (value: unknown, variant?: string) => checkSecureBootKeys(value, variant, isUnknown).map((f) => f.property);

describe("secureBootKeys at preview", () => {
  it("accepts what is declared right, and anything still unknown", () => {
    expect(props({ platformKey: OWN, keyExchangeKeys: [OWN], signatureDatabase: [OWN], forbidden: { certificates: [OWN], sha256: ["ab".repeat(32)] }, microsoft: "both", owner: "b5e7d4a6-3f1c-4c8e-9a2d-6f0e1b7c3a58" }, "4M")).toEqual([]);
    expect(props(UNKNOWN, "2M")).toEqual([]);
    expect(props({ platformKey: UNKNOWN, signatureDatabase: [UNKNOWN, OWN] }, "2M")).toEqual([]);
    expect(props(undefined)).toEqual([]);
  });

  it("names each wrong field, down to the list index", () => {
    expect(props("both")).toEqual(["secureBootKeys"]);
    expect(props({ platformKey: 42, keyExchangeKeys: OWN, signatureDatabase: [OWN, "not a cert"], owner: "ABC", forbidden: { sha: [] } })).toEqual([
      "secureBootKeys.platformKey",
      "secureBootKeys.keyExchangeKeys",
      "secureBootKeys.signatureDatabase[1]",
      "secureBootKeys.forbidden.sha",
      "secureBootKeys.owner",
    ]);
    const [failure] = checkSecureBootKeys({ microsoft: 2023 }, undefined, isUnknown);
    expect(failure?.reason).toBe(`must be one of "2011", "2023", "both" or "none" (Microsoft's KEK and db certificates of that generation)`);
  });

  it("refuses keys that cannot fit the firmware's variable store, by its variant", () => {
    const many = { signatureDatabase: Array.from({ length: 60 }, () => OWN) };
    expect(props(many, "2M")).toEqual(["secureBootKeys.signatureDatabase", "secureBootKeys"]);
    expect(props(many, "4M")).toEqual(["secureBootKeys.signatureDatabase"]);
    expect(props(many)).toEqual([]); // variant unknown: checked when the file is written
    // One variable may not outgrow OVMF's limit (10 KiB in 2M builds, 33 KiB in 4M): Microsoft's
    // both sets and a few own certificates fit a 2M db; fifteen own certificates do not.
    expect(props({ signatureDatabase: [OWN, OWN], microsoft: "both" }, "2M")).toEqual([]);
    const [tooBig] = checkSecureBootKeys({ signatureDatabase: Array.from({ length: 15 }, () => OWN) }, "2M", isUnknown);
    expect(tooBig).toEqual({ property: "secureBootKeys.signatureDatabase", reason: expect.stringMatching(/^db would take \d+ bytes, more than the 10240 a 2M OVMF build accepts for one authenticated variable \(PcdMaxAuthVariableSize\)/) as string });
  });
});
