import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { requirePulumiCli } from "../support/stack.js";
import { REPO_ROOT } from "../support/testhost.js";

// A short run of the fault harness (npm run bench -- faults cuts every remote step of create,
// restart, rename, move, live move and delete): the connection cut right after the first remote
// command of a create, and right after its last (the domain defined, the result lost), and during
// the migration of a live move; then `pulumi up` must converge with every check of the harness
// passing.
const run = promisify(execFile);

describe("bench/faults.mts smoke (create: cut after the first and the last remote command; live move: cut during the migration)", () => {
  beforeAll(async () => {
    await requirePulumiCli();
  });

  it("converges after each cut, and prints the counts and JSON", async () => {
    const { stdout } = await run("node", [path.join(REPO_ROOT, "bench/faults.mts"), "create", "--at", "1,-1"], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    console.info(stdout);
    expect(stdout).toMatch(/^create cut after command 1\/\d+ \(.+\): up failed; converged by up; all checks pass$/m);
    expect(stdout).toMatch(/^injection points: 2; converged with plain up: 2; with up --refresh: 0; passed: 2; failed: 0;/m);
    const json = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { faults: { points: number; passed: number; failed: unknown[] } };
    expect(json.faults).toEqual({ points: 2, passed: 2, failed: [] });
  });

  it("converges after the connection is cut while a running VM migrates live to the other host", async () => {
    const { stdout } = await run("node", [path.join(REPO_ROOT, "bench/faults.mts"), "live", "--at", "longest"], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    console.info(stdout);
    // `longest`: the move's longest remote command, the migration script (`env LC_ALL=C sh -c ...
    // virsh migrate`); cut as soon as the source host accepted it.
    expect(stdout).toMatch(/^live cut after command \d+\/\d+ \(env LC_ALL=C sh, \d+ ms without a fault\): up failed; converged by (up|up --refresh); all checks pass$/m);
    const json = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { faults: { points: number; passed: number; failed: unknown[] } };
    expect(json.faults).toEqual({ points: 1, passed: 1, failed: [] });
  });
});
