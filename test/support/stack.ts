import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";
import { closeAll } from "../../provider/ssh/pool.js";
import { REPO_ROOT, loadTestHost } from "./testhost.js";
import { parseSummary, type ChangeSummary } from "./summary.js";

const run = promisify(execFile);

export type { ChangeSummary } from "./summary.js";

/** What one plain `pulumi` operation printed, and what it did. */
export interface CliRun {
  /** The CLI's own text, as a user reads it (`--color never`). */
  stdout: string;
  /** The "Resources:" block of that text: create, update, replace, delete, same. */
  summary: ChangeSummary;
  /** What the CLI wrote to stderr: in non-interactive previews, the providers' warnings. */
  stderr?: string;
}

export interface UpRun extends CliRun {
  /** `pulumi stack output --json` afterwards (secrets read "[secret]"). */
  outputs: Record<string, unknown>;
}

/** The argv of one `pulumi` command on a stack, as the tests and examples/ci/pulumi-preview.yml run it. */
export function cliArgv(args: string[], stack: string): string[] {
  return [...args, "--non-interactive", "--color", "never", "--stack", stack];
}

/** `preview`, with `--diff` (what a reviewer reads) and `--expect-no-changes` when asked. */
export function previewArgs(opts: { diff?: boolean; expectNoChanges?: boolean }): string[] {
  return ["preview", ...(opts.diff === true ? ["--diff"] : []), ...(opts.expectNoChanges === true ? ["--expect-no-changes"] : [])];
}

function projectName(projectDir: string): string {
  return /^name:\s*["']?([^"'\s]+)/m.exec(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"))?.[1] ?? "";
}

/** The file backend of a test project: `<project>/.pulumi-state`, as the demo uses. */
function cliEnv(projectDir: string): NodeJS.ProcessEnv {
  const state = path.join(projectDir, ".pulumi-state");
  mkdirSync(state, { recursive: true });
  return {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: "pulumi-ovmf-local-test-stacks",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
  };
}

/**
 * A stack of a project, driven the way users drive it: plain `pulumi` commands in the project's own
 * directory, the program compiled by the CLI's Node.js language host. Config is set with `pulumi
 * config set` (the test host's connection once, `KEY=VALUE` overrides before an operation), and
 * stays in `Pulumi.<stack>.yaml` like a user's.
 */
export class TestStack {
  private selected = false;
  private lastStderr = "";

  constructor(
    readonly projectDir: string,
    readonly stack: string,
  ) {}

  /** Runs `pulumi ARGS --stack S` in the project; `stdin` is fed to the CLI (never on its command line). */
  async cli(args: string[], stdin?: string): Promise<string> {
    const child = spawn("pulumi", cliArgv(args, this.stack), { cwd: this.projectDir, env: cliEnv(this.projectDir), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.end(stdin ?? "");
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    if (code !== 0) throw new Error(`pulumi ${args.join(" ")} in ${path.relative(REPO_ROOT, this.projectDir)} (stack ${this.stack}) failed:\n${stdout}\n${stderr}`);
    this.lastStderr = stderr;
    return stdout;
  }

  /** `pulumi stack select --create` and the test host's connection as stack config (the key as a secret, from stdin). */
  async select(): Promise<void> {
    if (this.selected && existsSync(this.configFile())) return;
    await this.cli(["stack", "select", "--create"]);
    const th = loadTestHost();
    const hosts = th.hosts.map(({ privateKeyPath: _key, ...rest }) => rest);
    const plain = { host: th.host, port: String(th.port), user: th.user, hostKey: th.hostKey, domainType: th.domainType, hosts: JSON.stringify(hosts) };
    await this.cli(["config", "set-all", ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
    await this.cli(["config", "set", "--secret", "privateKey"], readFileSync(th.privateKeyPath, "utf8"));
    this.selected = true;
  }

  /** `pulumi config set-all --plaintext KEY=VALUE...` (nothing when there are none). */
  async config(settings: string[]): Promise<void> {
    await this.select();
    if (settings.length === 0) return;
    for (const kv of settings) if (kv.indexOf("=") < 1) throw new Error(`config takes KEY=VALUE, got ${kv}`);
    await this.cli(["config", "set-all", ...settings.flatMap((kv) => ["--plaintext", kv])]);
  }

  /** `pulumi preview [--diff] [--expect-no-changes]` after setting `config`. */
  async preview(opts: { diff?: boolean; expectNoChanges?: boolean; config?: string[] } = {}): Promise<CliRun> {
    await this.config(opts.config ?? []);
    const stdout = await this.cli(previewArgs(opts));
    return { stdout, stderr: this.lastStderr, summary: parseSummary(stdout) };
  }

  /** `pulumi up --yes --skip-preview [--refresh]` after setting `config`, then the stack's outputs. */
  async up(config: string[] = [], opts: { refresh?: boolean } = {}): Promise<UpRun> {
    await this.config(config);
    const stdout = await this.cli(["up", "--yes", "--skip-preview", ...(opts.refresh === true ? ["--refresh"] : [])]);
    return { stdout, summary: parseSummary(stdout), outputs: await this.outputs() };
  }

  /** `pulumi refresh --yes [--expect-no-changes]`. */
  async refresh(opts: { expectNoChanges?: boolean } = {}): Promise<CliRun> {
    await this.select();
    const stdout = await this.cli(["refresh", "--yes", "--skip-preview", ...(opts.expectNoChanges === true ? ["--expect-no-changes"] : [])]);
    return { stdout, summary: parseSummary(stdout) };
  }

  /** `pulumi destroy --yes [--remove]` (`--remove` also removes the stack and its config file). */
  async destroy(opts: { remove?: boolean } = {}): Promise<CliRun> {
    await this.select();
    const stdout = await this.cli(["destroy", "--yes", "--skip-preview", ...(opts.remove === true ? ["--remove"] : [])]);
    if (opts.remove === true) this.selected = false;
    return { stdout, summary: parseSummary(stdout) };
  }

  /** `pulumi stack output --json`. */
  async outputs(): Promise<Record<string, unknown>> {
    return JSON.parse(await this.cli(["stack", "output", "--json"])) as Record<string, unknown>;
  }

  /** A resource's outputs from `pulumi stack export` (refresh updates these, not the stack's exports). */
  async resourceOutputs(urnSuffix: string): Promise<Record<string, unknown>> {
    const exported = JSON.parse(await this.cli(["stack", "export"])) as { deployment: { resources?: Array<{ urn: string; outputs: Record<string, unknown> }> } };
    const found = (exported.deployment.resources ?? []).find((r) => r.urn.endsWith(urnSuffix));
    if (found === undefined) throw new Error(`no resource ${urnSuffix} in stack ${this.stack}`);
    return found.outputs;
  }

  /** The stack's resources as the file backend stores them on disk (secrets still encrypted). */
  stored(): StoredResource[] {
    const file = this.stateFile();
    const checkpoint = JSON.parse(readFileSync(file, "utf8")) as { checkpoint: { latest?: { resources?: StoredResource[] } } };
    return checkpoint.checkpoint.latest?.resources ?? [];
  }

  /**
   * Destroys and removes the stack if it exists: for `beforeAll` and `afterAll`, so that a test that
   * failed half-way leaves nothing running for the next file or run. Never throws.
   */
  async destroyIfPresent(): Promise<void> {
    if (!existsSync(this.stateFile())) return;
    await this.destroy({ remove: true }).catch((err: unknown) => {
      console.error(`cleanup: destroying ${path.basename(this.projectDir)}:${this.stack} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private stateFile(): string {
    return path.join(this.projectDir, ".pulumi-state/.pulumi/stacks", projectName(this.projectDir), `${this.stack}.json`);
  }

  private configFile(): string {
    return path.join(this.projectDir, `Pulumi.${this.stack}.yaml`);
  }
}

/** Builds the package and installs it as a real copy into a project (scripts/install-project.sh). */
export async function installProject(projectDir: string): Promise<void> {
  await run("bash", [path.join(REPO_ROOT, "scripts/install-project.sh"), projectDir], { env: process.env });
}

/** Fails fast with the fix when the pinned Pulumi CLI or its Node.js language host is not on PATH. */
export async function requirePulumiCli(): Promise<string> {
  const expected = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
  }).packages["node_modules/@pulumi/pulumi"]!.version;
  const { stdout } = await run("pulumi", ["version"]).catch(() => ({ stdout: "(none)" }));
  if (stdout.trim() !== `v${expected}`) {
    throw new Error(`the Pulumi CLI on PATH is ${stdout.trim()}, need v${expected}: run the tests with \`npm test\``);
  }
  const host = await run("pulumi-language-nodejs", ["-version"]).catch(() => undefined);
  if (host === undefined) throw new Error("no pulumi-language-nodejs on PATH: `npm test` builds it (scripts/build-pulumi-cli.sh)");
  return expected;
}

export interface StoredResource {
  urn: string;
  type: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

/**
 * The usual hooks of an e2e file, inside its describe: the CLI and the project ready and no stack
 * left from an earlier run before the tests; the stack destroyed and the SSH pool closed after.
 */
export function stackLifecycle(s: TestStack, projectDir: string): void {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(projectDir);
    await s.destroyIfPresent();
  });
  afterAll(async () => {
    await s.destroyIfPresent();
    closeAll();
  });
}
