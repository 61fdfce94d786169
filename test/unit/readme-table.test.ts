import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CHANGE_TABLE } from "../../provider/q35-domain/classify.js";

// The README's update-vs-replace table is what users read in reviews: keep it the code's table.
describe("README update vs replace table", () => {
  it("lists every Q35Domain input with the kind of change the provider applies", () => {
    const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("What a change does"), readme.indexOf("Every undefine uses"));
    const documented = new Map<string, string>();
    for (const line of section.split("\n").filter((l) => l.startsWith("| `"))) {
      const [inputs = "", change = ""] = line.split("|").slice(1, 3);
      const kind = /replace/.test(change) ? "replace" : /restart/.test(change) ? "restart" : /live/.test(change) ? "live" : "none";
      for (const m of inputs.matchAll(/`(\w+)`/g)) documented.set(m[1]!, kind);
    }
    for (const [input, kind] of Object.entries(CHANGE_TABLE)) expect(`${input}: ${documented.get(input)}`).toBe(`${input}: ${kind}`);
  });
});
