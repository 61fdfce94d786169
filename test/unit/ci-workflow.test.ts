import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { cliArgv, previewArgs } from "../support/stack.js";
import { REPO_ROOT } from "../support/testhost.js";

// examples/ci/pulumi-preview.yml must run what the end-to-end tests run on every example.
const workflow = readFileSync(path.join(REPO_ROOT, "examples/ci/pulumi-preview.yml"), "utf8");
const commands = workflow
  .split("\n")
  .map((l) => l.trim().replace(/^- run: /, ""))
  .filter((l) => /^(npm|pulumi) /.test(l));
const lockedSdk = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/@pulumi/pulumi"]!.version;

describe("examples/ci/pulumi-preview.yml", () => {
  it("runs npm ci, pulumi stack select and the tests' pulumi preview --diff, in that order", () => {
    expect(commands).toEqual([
      "npm ci",
      'pulumi stack select "$STACK" --non-interactive',
      `pulumi ${cliArgv(previewArgs({ diff: true }), '"$STACK"').join(" ")} > preview.txt 2>&1`,
    ]);
  });

  it("pins the CLI to the @pulumi/pulumi version of the lockfile", () => {
    expect(workflow).toContain(`pulumi-version: ${lockedSdk}`);
  });
});
