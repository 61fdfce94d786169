import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { checkHost } from "../host-info/check-host.js";
import { formatReport } from "../host-info/readiness.js";
import { describeTarget, validateConnection, type ConnectionSpec } from "../ssh/connection.js";
import { closeAll } from "../ssh/pool.js";

export const CHECK_HOST_USAGE = `Usage: pulumi-ovmf check-host [user@]host[:port] [options]

Checks, over SSH as the provider connects, what the host has and lacks for pulumi-ovmf, and prints
one line per piece (ok, missing, warning) with a fix for the host's distribution.
Exit code: 0 when nothing blocking is missing, 1 otherwise, 2 for a usage error.

Connection (as a resource's connection; the user defaults to root, the port to 22):
  --key PATH             private key file (connection.privateKey)
  --passphrase-env VAR   the key's passphrase is in environment variable VAR
  --password-env VAR     log in with the password in environment variable VAR
  --agent                use the SSH agent at $SSH_AUTH_SOCK (also used when no key is given)
  --host-key SHA256:...  pin the host key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host)
  --known-hosts PATH     verify the host key with a known_hosts file (default ~/.ssh/known_hosts)
  --sudo                 run the commands with sudo -n (connection.sudo)
  --jump [user@]host[:port]   through a jump host, with the same credentials
  --jump-host-key SHA256:...  the jump host's key pin (else the known_hosts file)
  --timeout SECONDS      how long connecting may take (default 30)
Checks:
  --no-kvm-probe         do not boot a throwaway domain to see whether KVM runs OVMF with SMM
  --live-moves           live moves are planned: what only they need is missing, not a warning
  --json                 print the report as JSON
`;

export interface CheckHostArgs {
  spec: ConnectionSpec;
  kvmProbe: boolean;
  liveMoves: boolean;
  json: boolean;
}

/** The machine-dependent inputs of argument parsing, so that it stays testable. */
export interface CliEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  readFile: (file: string) => string;
  exists: (file: string) => boolean;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** `[user@]host[:port]`, the host in brackets when it is an IPv6 address with a port. */
export function parseTarget(text: string): { host: string; user?: string; port?: number } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@]+|[0-9A-Fa-f:]+)(?::(\d+))?$/.exec(text);
  if (m === null || m[2] === undefined) throw new UsageError(`"${text}" is not [user@]host[:port]`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  return { host: m[2].replace(/^\[(.*)\]$/, "$1"), ...(m[1] === undefined ? {} : { user: m[1] }), ...(port === undefined ? {} : { port }) };
}

/** Turns the command line into a connection and options; throws {@link UsageError}. */
export function parseCheckHostArgs(argv: readonly string[], e: CliEnvironment): CheckHostArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        key: { type: "string" }, "passphrase-env": { type: "string" }, "password-env": { type: "string" }, agent: { type: "boolean" },
        "host-key": { type: "string" }, "known-hosts": { type: "string" }, sudo: { type: "boolean" }, jump: { type: "string" },
        "jump-host-key": { type: "string" }, timeout: { type: "string" }, "no-kvm-probe": { type: "boolean" }, "live-moves": { type: "boolean" },
        json: { type: "boolean" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const o = parsed.values;
  if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length === 0 ? "which host? give [user@]host[:port]" : `one host at a time, got ${parsed.positionals.join(" ")}`);
  const read = (what: string, file: string) => {
    try {
      return e.readFile(file);
    } catch (err) {
      throw new UsageError(`${what} ${file}: ${(err as Error).message}`);
    }
  };
  const fromEnv = (flag: string, name: string) => {
    const v = e.env[name];
    if (v === undefined) throw new UsageError(`--${flag} ${name}: no such environment variable`);
    return v;
  };

  const creds: Partial<ConnectionSpec> = {};
  if (o.key !== undefined) creds.privateKey = read("--key", o.key);
  if (o["passphrase-env"] !== undefined) creds.passphrase = fromEnv("passphrase-env", o["passphrase-env"]);
  if (o["password-env"] !== undefined) creds.password = fromEnv("password-env", o["password-env"]);
  const agent = e.env["SSH_AUTH_SOCK"];
  if (o.agent === true) {
    if (agent === undefined || agent === "") throw new UsageError("--agent: SSH_AUTH_SOCK is not set (is an ssh-agent running?)");
    creds.agent = agent;
  }
  if (creds.privateKey === undefined && creds.password === undefined && (agent === undefined || agent === "")) {
    throw new UsageError("no credentials: give --key PATH, --password-env VAR, or --agent with an ssh-agent running");
  }

  const defaultKnownHosts = path.join(e.home, ".ssh", "known_hosts");
  const knownHostsFile = o["known-hosts"] ?? (e.exists(defaultKnownHosts) ? defaultKnownHosts : undefined);
  const knownHosts = knownHostsFile === undefined ? undefined : read("--known-hosts", knownHostsFile);
  const verify = (pin: string | undefined, flag: string): Partial<ConnectionSpec> => {
    if (pin !== undefined) return { hostKey: pin };
    if (knownHosts !== undefined) return { knownHosts };
    throw new UsageError(`no host key to verify against: give ${flag} SHA256:... (what ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub prints on the host) or --known-hosts PATH (${defaultKnownHosts} does not exist)`);
  };

  const spec: ConnectionSpec = { ...parseTarget(parsed.positionals[0] ?? ""), ...creds, ...verify(o["host-key"], "--host-key") };
  if (o.sudo === true) spec.sudo = true;
  if (o.timeout !== undefined) spec.timeoutSeconds = Number(o.timeout);
  if (o.jump !== undefined) spec.jumpHost = { ...parseTarget(o.jump), ...creds, ...verify(o["jump-host-key"], "--jump-host-key") };
  const failures = validateConnection(spec);
  if (failures.length > 0) throw new UsageError(failures.map((f) => `${f.property}: ${f.reason}`).join("\n"));
  return { spec, kvmProbe: o["no-kvm-probe"] !== true, liveMoves: o["live-moves"] === true, json: o.json === true };
}

const machine: CliEnvironment = { env: process.env, home: homedir(), readFile: (f) => readFileSync(f, "utf8"), exists: existsSync };

/** `pulumi-ovmf check-host ...`: prints the report; resolves to the exit code. */
export async function runCheckHost(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) return (out.write(CHECK_HOST_USAGE), 0);
  let args: CheckHostArgs;
  try {
    args = parseCheckHostArgs(argv, machine);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`pulumi-ovmf check-host: ${e.message}\n(pulumi-ovmf check-host --help lists the options)\n`);
    return 2;
  }
  const target = describeTarget(args.spec);
  try {
    const r = await checkHost(args.spec, { kvmProbe: args.kvmProbe, liveMoves: args.liveMoves });
    out.write(args.json ? JSON.stringify({ target, distribution: r.distribution, readiness: r.readiness }, null, 2) + "\n" : formatReport(target, r.distribution, r.readiness));
    return r.readiness.ok ? 0 : 1;
  } catch (e) {
    // The provider's errors name the host and what to do; none carries a credential.
    err.write(`pulumi-ovmf check-host: cannot check ${target}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    closeAll();
  }
}
