/**
 * Runs one Pulumi operation on a project directory with the real Pulumi CLI, through the Automation
 * API with the project's program loaded as an inline program (the CLI then needs no Node.js language
 * host). Everything is resolved from the project's own node_modules, exactly as a user's `pulumi up`
 * would, so the dynamic provider process loads the installed pulumi-ovmf package.
 *
 *   node scripts/pulumi-stack.mts DIR up|preview|refresh|destroy|outputs|export [options]
 *     --stack NAME       stack name (default: dev)
 *     --testhost FILE    set the stack's connection config from a test host JSON (scripts/testhost.sh):
 *                        host, port, user, hostKey, domainType, privateKey (secret), and hosts (all
 *                        test hosts as a JSON list of {name, host, port, user, hostKey})
 *     --config KEY=VALUE set a plain config value (repeatable)
 *     --diff             preview with a detailed diff
 *     --expect-no-changes  fail if a preview or refresh would change anything
 *     --remove           after destroy, remove the stack
 *     --json FILE        write the operation's result (summary, outputs) as JSON to FILE
 *
 * Backend: $PULUMI_BACKEND_URL, else a file backend in DIR/.pulumi-state. Secrets: the passphrase
 * provider with $PULUMI_CONFIG_PASSPHRASE (a fixed local passphrase when unset: local test stacks only).
 */
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    stack: { type: "string", default: "dev" },
    testhost: { type: "string" },
    diff: { type: "boolean", default: false },
    "expect-no-changes": { type: "boolean", default: false },
    remove: { type: "boolean", default: false },
    json: { type: "string" },
    config: { type: "string", multiple: true, default: [] },
  },
});
const [dirArg, op] = positionals;
const OPS = ["up", "preview", "refresh", "destroy", "outputs", "export"];
if (dirArg === undefined || op === undefined || !OPS.includes(op)) {
  console.error(`usage: node scripts/pulumi-stack.mts DIR ${OPS.join("|")} [--stack NAME] [--testhost FILE] [--diff] [--expect-no-changes] [--remove] [--json FILE]`);
  process.exit(2);
}
const projectDir = path.resolve(dirArg);
const projectRequire = createRequire(path.join(projectDir, "package.json"));
const auto: typeof import("@pulumi/pulumi/automation/index.js") = projectRequire("@pulumi/pulumi/automation");

function projectName(): string {
  const yaml = readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
  const name = /^name:\s*["']?([^"'\s]+)/m.exec(yaml)?.[1];
  if (name === undefined) throw new Error(`no project name in ${projectDir}/Pulumi.yaml`);
  return name;
}

function programEntry(): string {
  const yaml = readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
  const main = /^main:\s*["']?([^"'\s]+)/m.exec(yaml)?.[1];
  for (const candidate of [main, "index.ts", "index.js"]) {
    if (candidate !== undefined && existsSync(path.join(projectDir, candidate))) return path.join(projectDir, candidate);
  }
  throw new Error(`no program (index.ts or index.js) in ${projectDir}`);
}

// The program: load the project's entry module; its exports become stack outputs. A default-exported
// function is called, as Pulumi does for `export = async () => ...` programs.
async function program(): Promise<Record<string, unknown>> {
  const mod = projectRequire(programEntry()) as Record<string, unknown>;
  const main = mod["default"];
  if (typeof main === "function") return ((await main()) ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(mod).filter(([k]) => k !== "default" && k !== "__esModule"));
}

function testhostConfig(file: string): Record<string, { value: string; secret?: boolean }> {
  const host = JSON.parse(readFileSync(file, "utf8")) as Record<string, string | number>;
  const config: Record<string, { value: string; secret?: boolean }> = {};
  for (const key of ["host", "port", "user", "hostKey", "domainType"]) {
    if (host[key] !== undefined) config[key] = { value: String(host[key]) };
  }
  if (host["privateKeyPath"] !== undefined) {
    config["privateKey"] = { value: readFileSync(String(host["privateKeyPath"]), "utf8"), secret: true };
  }
  const hosts = (host["hosts"] as unknown as Array<Record<string, unknown>> | undefined) ?? [];
  config["hosts"] = { value: JSON.stringify(hosts.map(({ privateKeyPath: _key, ...rest }) => rest)) };
  return config;
}

async function main(): Promise<number> {
  const stateDir = path.join(projectDir, ".pulumi-state");
  mkdirSync(stateDir, { recursive: true });
  const envVars: Record<string, string> = {
    PULUMI_BACKEND_URL: process.env["PULUMI_BACKEND_URL"] ?? `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: process.env["PULUMI_CONFIG_PASSPHRASE"] ?? "pulumi-ovmf-local-test-stacks",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
  };
  const stack = await auto.LocalWorkspace.createOrSelectStack(
    { stackName: values.stack, projectName: projectName(), program },
    { workDir: projectDir, envVars },
  );
  const extra = Object.fromEntries(
    values.config.map((kv) => {
      const eq = kv.indexOf("=");
      if (eq < 1) throw new Error(`--config takes KEY=VALUE, got ${kv}`);
      return [kv.slice(0, eq), { value: kv.slice(eq + 1), secret: false }];
    }),
  );
  if (values.testhost !== undefined || values.config.length > 0) {
    const config = { ...(values.testhost === undefined ? {} : testhostConfig(values.testhost)), ...extra };
    await stack.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: v.value, secret: v.secret ?? false }])));
  }
  const onOutput = (text: string) => process.stdout.write(text);
  let result: Record<string, unknown> = {};
  let changes: Record<string, number> | undefined;
  switch (op) {
    case "up": {
      const r = await stack.up({ onOutput, color: "never" });
      result = { summary: r.summary.resourceChanges ?? {}, outputs: plainOutputs(r.outputs) };
      break;
    }
    case "preview": {
      const r = await stack.preview({ onOutput, color: "never", diff: values.diff });
      changes = r.changeSummary;
      result = { changeSummary: r.changeSummary };
      break;
    }
    case "refresh": {
      const r = await stack.refresh({ onOutput, color: "never" });
      changes = r.summary.resourceChanges;
      result = { summary: r.summary.resourceChanges ?? {} };
      break;
    }
    case "destroy": {
      const r = await stack.destroy({ onOutput, color: "never" });
      result = { summary: r.summary.resourceChanges ?? {} };
      if (values.remove) await stack.workspace.removeStack(values.stack);
      break;
    }
    case "outputs":
      result = { outputs: plainOutputs(await stack.outputs()) };
      console.log(JSON.stringify(result.outputs, null, 2));
      break;
    case "export":
      result = { deployment: await stack.exportStack() };
      break;
  }
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(result, null, 2));
  if (values["expect-no-changes"] && changes !== undefined) {
    const changed = Object.entries(changes).filter(([kind, n]) => kind !== "same" && n > 0);
    if (changed.length > 0) {
      console.error(`expected no changes, got ${JSON.stringify(Object.fromEntries(changed))}`);
      return 1;
    }
  }
  return 0;
}

function plainOutputs(outputs: Record<string, { value: unknown; secret: boolean }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
