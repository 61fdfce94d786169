import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { testConnection } from "../support/testhost.js";

afterAll(() => closeAll());

// Every string tries to run `touch MARKER` if the quoting were wrong. The test host is this machine,
// so the marker file is checked locally.
const marker = path.join(mkdtempSync(path.join(tmpdir(), "ovmf-quote-")), "pwned");
const t = `touch ${marker}`;
const HOSTILE = [
  "plain",
  "two words",
  "",
  " leading and trailing ",
  `$(${t})`,
  `\`${t}\``,
  `; ${t}`,
  `| ${t}`,
  `|| ${t}`,
  `&& ${t}`,
  `& ${t}`,
  `\n${t}\n`,
  `\r\n${t}`,
  `'; ${t}; '`,
  `"; ${t}; "`,
  `"$(${t})"`,
  `'$(${t})'`,
  `\\'; ${t}; echo \\'`,
  `$((1+1))`,
  "${HOME}",
  "$HOME",
  "$0 $1 $@ $*",
  "*",
  "/*",
  "~",
  "~root",
  "!!",
  "#comment",
  `> ${marker}`,
  `< /etc/passwd`,
  `2>&1 ${t}`,
  `{a,b}`,
  "[abc]",
  "\\",
  "\\\\n",
  "tab\there",
  "🔐 Secure Boot ✓ — Größe",
  "日本語のパス",
  `$'\\x41'`,
  `-n`,
  `--help`,
  `%s%s%s`,
  "'",
  '"',
  "''''",
  `eval ${t}`,
  `x=$(${t}) y`,
];

describe("argument quoting against the real remote shell", () => {
  it(`round-trips ${HOSTILE.length} hostile strings byte for byte and executes none of them`, async () => {
    const host = new Host(testConnection());
    const results = await Promise.all(HOSTILE.map((s) => host.run(["printf", "%s", s])));
    for (const [i, r] of results.entries()) {
      expect(r.code, `exit code for ${JSON.stringify(HOSTILE[i])}`).toBe(0);
      expect(Buffer.from(r.stdout)).toEqual(Buffer.from(HOSTILE[i]!));
    }
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
    expect(existsSync(marker)).toBe(false);
  });

  it("passes hostile strings through sudo unchanged too", async () => {
    const host = new Host({ ...testConnection(), sudo: true });
    const results = await Promise.all(HOSTILE.slice(0, 20).map((s) => host.run(["printf", "%s", s])));
    results.forEach((r, i) => expect(r.stdout).toBe(HOSTILE[i]));
    expect(existsSync(marker)).toBe(false);
  });
});
