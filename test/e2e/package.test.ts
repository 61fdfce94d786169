import { execFile } from "node:child_process";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePulumiCli, TestStack } from "../support/stack.js";
import { REPO_ROOT } from "../support/testhost.js";

const run = promisify(execFile);

// `npm test` hands its own npm_* settings to every child; a user's shell has none of them.
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

async function npm(args: string[], cwd: string): Promise<string> {
  return (await run("npm", args, { cwd, env: userEnv(), maxBuffer: 64 << 20 })).stdout;
}

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, HostInfo } from "pulumi-ovmf";

const info = new HostInfo("host", { connection: connectionFromConfig(new pulumi.Config()) });

export const libvirtVersion = info.libvirtVersion;
`;

/** A Pulumi TypeScript project as a user writes one, depending on pulumi-ovmf as `spec` (the example's versions and tsconfig). */
function userProject(dir: string, name: string, spec: string): void {
  const example = path.join(REPO_ROOT, "examples/secure-boot-vm");
  const pkg = JSON.parse(readFileSync(path.join(example, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\ndescription: pulumi-ovmf installed from its package\n`);
  const dependencies = { "@pulumi/pulumi": pkg.dependencies["@pulumi/pulumi"], "pulumi-ovmf": spec };
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, dependencies, devDependencies: pkg.devDependencies }, null, 2));
  copyFileSync(path.join(example, "tsconfig.json"), path.join(dir, "tsconfig.json"));
  writeFileSync(path.join(dir, "index.ts"), PROGRAM);
}

/** The repository's TypeScript sources that make up the package (what dist/ must hold, one module each). */
function packageModules(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [`${dir}/${e.name.replace(/\.ts$/, "")}`] : [],
    );
  return [...walk("sdk"), ...walk("provider")].sort();
}

/**
 * A clone of the working tree as it would be committed (tracked and not ignored files), so the test
 * packs and installs what this tree holds without touching the repository's own dist/.
 */
async function gitSnapshot(dir: string): Promise<void> {
  const listed = (await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, maxBuffer: 64 << 20 })).stdout;
  for (const file of listed.split("\0").filter((f) => f !== "" && existsSync(path.join(REPO_ROOT, f)))) {
    cpSync(path.join(REPO_ROOT, file), path.join(dir, file), { recursive: true });
  }
  const git = (args: string[]) => run("git", ["-c", "user.name=pulumi-ovmf test", "-c", "user.email=test@example.invalid", ...args], { cwd: dir });
  await git(["init", "-q"]);
  await git(["add", "-A"]);
  await git(["commit", "-q", "-m", "snapshot of the working tree"]);
}

describe("the npm package, installed into a project outside the repository", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pulumi-ovmf-package-"));
  const repo = path.join(tmp, "repo");
  const project = path.join(tmp, "tarball-user");
  const s = new TestStack(project, "e2e-package");
  let tarball = "";
  let files: string[] = [];

  beforeAll(async () => {
    await requirePulumiCli();
    await gitSnapshot(repo);
    // As after `npm ci` in a clone (a link saves installing the same devDependencies again).
    symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(repo, "node_modules"));
    mkdirSync(path.join(tmp, "pack"));
    const [packed] = JSON.parse(await npm(["pack", "--json", "--pack-destination", path.join(tmp, "pack")], repo)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(tmp, "pack", packed!.filename);
    files = packed!.files.map((f) => f.path).sort();
  });
  afterAll(async () => {
    await s.destroyIfPresent();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("npm pack in a clone ships the built SDK and provider with README, LICENSE and CHANGELOG, and nothing of the tests", () => {
    expect(files.filter((f) => !f.startsWith("dist/"))).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "package.json"]);
    // Exactly one .js and one .d.ts per source module: nothing missing, nothing stale, no maps or build info.
    expect(files.filter((f) => f.startsWith("dist/"))).toEqual(packageModules().flatMap((m) => [`dist/${m}.d.ts`, `dist/${m}.js`]).sort());
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { main: string; exports: Record<string, unknown> };
    expect(files).toContain(pkg.main.replace(/^\.\//, ""));
    expect(files).toContain("dist/provider/shims/host-info.js");
    expect(readFileSync(path.join(REPO_ROOT, "LICENSE"), "utf8")).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
  });

  it("plain npm install of the tarball puts a real copy in node_modules, and pulumi up deploys from it", async () => {
    userProject(project, "pulumi-ovmf-from-tarball", tarball);
    await npm(["install"], project);
    const installed = path.join(project, "node_modules/pulumi-ovmf");
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(existsSync(path.join(installed, "dist/sdk/index.js"))).toBe(true);
    const { outputs, summary } = await s.up();
    expect(summary).toEqual({ create: 2 });
    expect(outputs["libvirtVersion"]).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("the state holds the provider as a small require of the installed package", async () => {
    const exported = JSON.parse(await s.cli(["stack", "export"])) as { deployment: { resources?: Array<{ type: string; inputs: Record<string, unknown> }> } };
    const hostInfo = (exported.deployment.resources ?? []).find((r) => r.type === "pulumi-nodejs:dynamic/ovmf:HostInfo");
    const provider = String(hostInfo?.inputs["__provider"]);
    expect(provider).toContain('require("pulumi-ovmf/shims/host-info")');
    expect(provider.length).toBeLessThan(1024);
  });

  it("destroy removes the resource and the stack", async () => {
    expect((await s.destroy({ remove: true })).summary).toEqual({ delete: 2 });
    expect(existsSync(path.join(project, "Pulumi.e2e-package.yaml"))).toBe(false);
  });

  it("npm install git+file://… of a commit builds dist/ on install (prepare) and ships the same files", async () => {
    const committed = (await run("git", ["ls-tree", "-r", "--name-only", "HEAD"], { cwd: repo, maxBuffer: 64 << 20 })).stdout.split("\n");
    expect(committed.filter((f) => f.startsWith("dist/") || f.startsWith("node_modules"))).toEqual([]);
    const gitUser = path.join(tmp, "git-user");
    userProject(gitUser, "pulumi-ovmf-from-git", `git+file://${repo}`);
    await npm(["install"], gitUser);
    const installed = path.join(gitUser, "node_modules/pulumi-ovmf");
    expect(existsSync(path.join(installed, "dist/sdk/index.js"))).toBe(true);
    expect(readdirSync(installed).sort()).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "dist", "package.json"]);
    const loaded = await run("node", ["-e", 'process.stdout.write(typeof require("pulumi-ovmf").HostInfo)'], { cwd: gitUser });
    expect(loaded.stdout).toBe("function");
  });
});
