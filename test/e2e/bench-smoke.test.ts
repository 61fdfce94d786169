import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { requirePulumiCli } from "../support/stack.js";
import { REPO_ROOT } from "../support/testhost.js";

// A short run of the fleet benchmark (npm run bench -- fleet runs N = 10 and 30): it works end to
// end and prints its table and JSON. Figures are printed, never asserted as timings.
const run = promisify(execFile);

describe("bench/fleet.mts smoke (2 VMs on 1 host)", () => {
  beforeAll(async () => {
    await requirePulumiCli();
  });

  it("runs the provider, the engine floor, the shape floor and the one-connection script, and prints the tables and JSON", async () => {
    const { stdout } = await run("node", [path.join(REPO_ROOT, "bench/fleet.mts"), "2:1", "--runs", "1"], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    console.info(stdout);
    expect(stdout).toMatch(/^\| 2, 1 host \| [\d.]+ s \|/m);
    const json = JSON.parse(stdout.trim().split("\n").pop()!) as { fleet: Array<Record<string, number>> };
    const row = json.fleet[0]!;
    expect(row).toMatchObject({ n: 2, hosts: 1 });
    for (const k of ["providerUp", "engineFloorUp", "shapeFloorUp", "shapeFloorDestroy", "script", "unchangedPreview", "destroy", "scriptDelete"]) expect(row[k], k).toBeGreaterThan(0);
    expect(stdout).toMatch(/^Against the shape floor/m);
    // The provider stack's export and its replay hold the test key in clear: neither is left behind.
    const state = path.join(REPO_ROOT, "bench/projects/fleet/.pulumi-state");
    expect(readdirSync(state).filter((f) => f === "export.json" || f.startsWith("replay-"))).toEqual([]);
    // One pooled SSH connection per host for the whole of `pulumi up`.
    expect(row["upLogins"]).toBe(1);
    // An unchanged preview compares with the stack state: no SSH connection at all.
    expect(row["previewLogins"]).toBe(0);
  });
});

describe("bench/live-move.mts smoke (one live move)", () => {
  it("moves the host-move example's running VM live and prints the pause, as a table and JSON", async () => {
    const { stdout } = await run("node", [path.join(REPO_ROOT, "bench/live-move.mts"), "--moves", "1"], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    console.info(stdout);
    expect(stdout).toMatch(/^move 1 to b: paused \d+ ms, migration [\d.]+ s, pulumi up [\d.]+ s, running \(migrated\)$/m);
    const json = JSON.parse(stdout.trim().split("\n").pop()!) as { liveMove: { moves: number; downtimeMs: { median: number } } };
    expect(json.liveMove.moves).toBe(1);
    expect(json.liveMove.downtimeMs.median).toBeGreaterThan(0);
  });
});
