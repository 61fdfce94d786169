import { parseHostKeyPin } from "./fingerprint.js";

/**
 * How to reach a host, as the provider receives it (plain values; the sdk marks the credentials
 * secret). Defaults are applied by {@link withDefaults}.
 */
export interface ConnectionSpec {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
  agent?: string;
  hostKey?: string;
  knownHosts?: string;
  jumpHost?: ConnectionSpec;
  sudo?: boolean;
  /** How long opening the connection may take in all, retries included (default {@link DEFAULT_TIMEOUT_SECONDS}). */
  timeoutSeconds?: number;
}

/** A check failure, in the shape Pulumi's `check` returns: which property and how to fix it. */
export interface Failure {
  property: string;
  reason: string;
}

export const DEFAULT_PORT = 22;
export const DEFAULT_USER = "root";
/**
 * Seconds an operation waits for a host to answer before it fails. A hung host or a firewall that
 * swallows packets otherwise held `pulumi up` for minutes (five 20 s attempts) before saying why.
 */
export const DEFAULT_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 3600;

export function withDefaults(spec: ConnectionSpec): ConnectionSpec & { port: number; user: string } {
  return { ...spec, port: spec.port ?? DEFAULT_PORT, user: spec.user ?? DEFAULT_USER };
}

/** `user@host:port` (via the jump host, if any): names a connection in messages and pool keys. */
export function describeTarget(spec: ConnectionSpec): string {
  const c = withDefaults(spec);
  const self = `${c.user}@${c.host}:${c.port}`;
  return c.jumpHost === undefined ? self : `${self} via ${describeTarget(c.jumpHost)}`;
}

/**
 * The machine a connection reaches (`host:port`): a change means another host. The user, the
 * credentials and the jump host are only how we get there.
 */
export function identity(spec: ConnectionSpec): string {
  const c = withDefaults(spec);
  return `${c.host}:${c.port}`;
}

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]+\]?$/;
const USER = /^[a-z_][a-z0-9_.-]*\$?$/i;

const HOST_KEY_HELP =
  "pin the host key: set hostKey to the fingerprint that `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints on the host " +
  "(or that `ssh-keyscan -p PORT HOST | ssh-keygen -lf -` prints from a trusted network), or pass knownHosts";

/**
 * Validates a connection without touching the network. Unknown values (preview) are skipped.
 * `prefix` is the property path of the connection in the resource's inputs.
 */
export function validateConnection(value: unknown, prefix = "connection", isUnknown: (v: unknown) => boolean = () => false): Failure[] {
  if (isUnknown(value)) return [];
  if (typeof value !== "object" || value === null) {
    return [{ property: prefix, reason: "connection is required: an object with at least host and hostKey" }];
  }
  const c = value as Record<string, unknown>;
  const failures: Failure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property: `${prefix}.${property}`, reason });
  const known = (v: unknown) => v !== undefined && !isUnknown(v);

  if (!known(c["host"]) && !isUnknown(c["host"])) fail("host", "host is required (a host name or IP address)");
  else if (known(c["host"]) && (typeof c["host"] !== "string" || !HOSTNAME.test(c["host"]))) {
    fail("host", `"${String(c["host"])}" is not a valid host name or IP address`);
  }
  if (known(c["port"]) && !(Number.isInteger(c["port"]) && (c["port"] as number) > 0 && (c["port"] as number) < 65536)) {
    fail("port", `port must be an integer from 1 to 65535 (default ${DEFAULT_PORT}), got ${JSON.stringify(c["port"])}`);
  }
  if (known(c["user"]) && (typeof c["user"] !== "string" || !USER.test(c["user"]))) {
    fail("user", `"${String(c["user"])}" is not a valid user name (default ${DEFAULT_USER})`);
  }
  for (const k of ["privateKey", "passphrase", "password", "agent", "knownHosts"] as const) {
    if (known(c[k]) && typeof c[k] !== "string") fail(k, `${k} must be a string`);
  }
  if (known(c["sudo"]) && typeof c["sudo"] !== "boolean") fail("sudo", "sudo must be true or false (default false)");
  const t = c["timeoutSeconds"];
  if (known(t) && !(typeof t === "number" && Number.isFinite(t) && t >= 1 && t <= MAX_TIMEOUT_SECONDS)) {
    fail("timeoutSeconds", `timeoutSeconds must be a number of seconds from 1 to ${MAX_TIMEOUT_SECONDS} (default ${DEFAULT_TIMEOUT_SECONDS}), got ${JSON.stringify(t)}`);
  }

  const hostKeyGiven = c["hostKey"] !== undefined;
  const knownHostsGiven = c["knownHosts"] !== undefined;
  if (!hostKeyGiven && !knownHostsGiven) {
    fail("hostKey", `host key verification is always on and neither hostKey nor knownHosts is set: ${HOST_KEY_HELP}`);
  } else if (known(c["hostKey"]) && (typeof c["hostKey"] !== "string" || parseHostKeyPin(c["hostKey"]) === undefined)) {
    fail("hostKey", `"${String(c["hostKey"])}" is neither a SHA256:... fingerprint nor a public key line; ${HOST_KEY_HELP}`);
  }
  if (known(c["jumpHost"])) failures.push(...validateConnection(c["jumpHost"], `${prefix}.jumpHost`, isUnknown));
  return failures;
}
