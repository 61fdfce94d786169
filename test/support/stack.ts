import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, testHostFile } from "./testhost.js";

const run = promisify(execFile);

export interface StackRun {
  /** What scripts/pulumi-stack.mts wrote with --json. */
  result: Record<string, unknown>;
  /** The CLI's progress output. */
  stdout: string;
}

/**
 * Runs one Pulumi operation on a project with the real CLI, exactly as the demo and CI do
 * (scripts/pulumi-stack.mts in its own Node process). Throws with the CLI output on failure.
 */
export async function pulumiStack(projectDir: string, op: string, stack: string, ...extra: string[]): Promise<StackRun> {
  const tmp = mkdtempSync(path.join(tmpdir(), "ovmf-stack-"));
  const json = path.join(tmp, "result.json");
  const args = [path.join(REPO_ROOT, "scripts/pulumi-stack.mts"), projectDir, op, "--stack", stack, "--testhost", testHostFile(), "--json", json, ...extra];
  try {
    const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024, env: process.env });
    return { result: JSON.parse(readFileSync(json, "utf8")) as Record<string, unknown>, stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`pulumi ${op} on ${path.basename(projectDir)} failed:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`, { cause: err });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Builds the package and installs it as a real copy into a project (scripts/install-project.sh). */
export async function installProject(projectDir: string): Promise<void> {
  await run("bash", [path.join(REPO_ROOT, "scripts/install-project.sh"), projectDir], { env: process.env });
}

/** Fails fast with the fix when the pinned Pulumi CLI is not on PATH. */
export async function requirePulumiCli(): Promise<string> {
  const expected = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
  }).packages["node_modules/@pulumi/pulumi"]!.version;
  const { stdout } = await run("pulumi", ["version"]).catch(() => ({ stdout: "(none)" }));
  if (stdout.trim() !== `v${expected}`) {
    throw new Error(`the Pulumi CLI on PATH is ${stdout.trim()}, need v${expected}: run the tests with \`npm test\``);
  }
  return expected;
}

export interface StoredResource {
  urn: string;
  type: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

/** A stack's resources as the file backend stores them on disk (secrets still encrypted). */
export function storedResources(projectDir: string, stack: string): StoredResource[] {
  const project = /^name:\s*(\S+)/m.exec(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"))?.[1] ?? "";
  const file = path.join(projectDir, ".pulumi-state/.pulumi/stacks", project, `${stack}.json`);
  const checkpoint = JSON.parse(readFileSync(file, "utf8")) as { checkpoint: { latest?: { resources?: StoredResource[] } } };
  return checkpoint.checkpoint.latest?.resources ?? [];
}

/**
 * Destroys and removes a test stack if it still exists: for `afterAll`, so that a test that failed
 * half-way leaves nothing running for the next file or run. Never throws.
 */
export async function destroyIfPresent(projectDir: string, stack: string): Promise<void> {
  const project = /^name:\s*(\S+)/m.exec(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"))?.[1] ?? "";
  if (!existsSync(path.join(projectDir, ".pulumi-state/.pulumi/stacks", project, `${stack}.json`))) return;
  await pulumiStack(projectDir, "destroy", stack, "--remove").catch((err: unknown) => {
    console.error(`cleanup: destroying ${path.basename(projectDir)}:${stack} failed: ${err instanceof Error ? err.message : String(err)}`);
  });
}
