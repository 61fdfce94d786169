import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { HostKeyMismatchError, SshConnectionError, SshTimeoutError } from "../errors.js";
import { DEFAULT_TIMEOUT_SECONDS, describeTarget, withDefaults, type ConnectionSpec } from "./connection.js";
import { parseHostKeyPin, sha256Fingerprint } from "./fingerprint.js";
import { knownHostsName, verifyKnownHosts } from "./known-hosts.js";

/** Interval between SSH keepalive packets; three unanswered ones drop the connection. */
export const KEEPALIVE_INTERVAL_MS = 15_000;
/** Dial attempts at most, with exponential backoff from {@link RETRY_BASE_DELAY_MS}, all within the connection's time limit. */
export const DIAL_ATTEMPTS = 5;
export const RETRY_BASE_DELAY_MS = 500;

/** An open connection; `close` also closes the jump host connection it runs through, if any. */
export interface Dialed {
  client: Client;
  close(): void;
}

export interface DialOptions {
  attempts?: number;
  baseDelayMs?: number;
  /** When (`Date.now()` ms) the connection must be up at the latest; the connection's own limit may be earlier. */
  deadline?: number;
}

/** Milliseconds a connection allows for opening it, retries included. */
export function timeLimitMs(spec: ConnectionSpec): number {
  return (spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
}

/**
 * Opens an SSH connection, verifying the host key (pin or known_hosts) before any credential is
 * sent, through the jump host if one is given, within the connection's time limit. A refused or
 * reset connection is retried with backoff while time is left; a host that does not answer is not
 * (it used the time up), nor are a host key mismatch or an authentication failure (retrying cannot
 * fix them).
 */
export async function dial(spec: ConnectionSpec, options: DialOptions = {}): Promise<Dialed> {
  const attempts = options.attempts ?? DIAL_ATTEMPTS;
  const base = options.baseDelayMs ?? RETRY_BASE_DELAY_MS;
  const deadline = Math.min(options.deadline ?? Infinity, Date.now() + timeLimitMs(spec));
  let last: unknown;
  let attempt = 0;
  while (attempt < attempts) {
    attempt++;
    try {
      return await dialThrough(spec, deadline);
    } catch (err) {
      last = err;
      const delay = base * 2 ** (attempt - 1);
      if (isFinal(err) || Date.now() + delay >= deadline) break;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, delay));
    }
  }
  if (isFinal(last) || attempt === 1) throw last;
  const cause = last instanceof SshConnectionError ? last.detail : last instanceof Error ? last.message : String(last);
  throw new SshConnectionError(describeTarget(spec), `could not connect after ${attempt} attempts: ${cause}`, { cause: last });
}

/** Whether another attempt cannot help: wrong host key or credentials, or no time left. */
function isFinal(err: unknown): boolean {
  return err instanceof HostKeyMismatchError || (err instanceof SshConnectionError && (err.permanent || err instanceof SshTimeoutError));
}

async function dialThrough(spec: ConnectionSpec, deadline: number): Promise<Dialed> {
  if (spec.jumpHost === undefined) {
    const client = await dialOnce(spec, deadline);
    return { client, close: () => client.end() };
  }
  const jump = await dial(spec.jumpHost, { attempts: 1, deadline });
  try {
    const c = withDefaults(spec);
    const sock = await new Promise<ClientChannel>((resolve, reject) =>
      jump.client.forwardOut("127.0.0.1", 0, c.host, c.port, (err, stream) => (err ? reject(err) : resolve(stream))),
    ).catch((err: Error) => {
      throw new SshConnectionError(describeTarget(spec), `the jump host could not open a tunnel: ${err.message}`, { cause: err });
    });
    const client = await dialOnce(spec, deadline, sock);
    client.once("close", () => jump.close());
    return { client, close: () => client.end() };
  } catch (err) {
    jump.close();
    throw err;
  }
}

/** Host key check for one connection; remembers what the host presented for the error message. */
function hostKeyCheck(spec: ConnectionSpec) {
  const c = withDefaults(spec);
  const pin = c.hostKey === undefined ? undefined : parseHostKeyPin(c.hostKey);
  const state: { presented?: string; expected: string } = { expected: pin ?? "(no usable host key pin)" };
  const verify = (key: Buffer): boolean => {
    state.presented = sha256Fingerprint(key);
    if (pin !== undefined) return state.presented === pin;
    if (c.knownHosts === undefined) return false;
    const verdict = verifyKnownHosts(c.knownHosts, c.host, c.port, key);
    if (verdict.ok) return true;
    state.expected =
      verdict.reason === "mismatch"
        ? `one of ${verdict.expected.join(", ")} (from knownHosts)`
        : verdict.reason === "revoked"
          ? "a key that is not marked @revoked in knownHosts"
          : `an entry for ${knownHostsName(c.host, c.port)} in knownHosts (there is none)`;
    return false;
  };
  return { verify, state };
}

function dialOnce(spec: ConnectionSpec, deadline: number, sock?: ClientChannel): Promise<Client> {
  const c = withDefaults(spec);
  const target = describeTarget(c);
  const check = hostKeyCheck(c);
  // ssh2's readyTimeout covers the TCP connect, the handshake and the login.
  const waitMs = Math.max(1, Math.ceil(deadline - Date.now()));
  const config: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    readyTimeout: waitMs,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: 3,
    hostVerifier: check.verify,
  };
  if (sock !== undefined) config.sock = sock;
  if (c.privateKey !== undefined) config.privateKey = c.privateKey;
  if (c.passphrase !== undefined) config.passphrase = c.passphrase;
  if (c.password !== undefined) config.password = c.password;
  const agent = c.agent ?? process.env["SSH_AUTH_SOCK"];
  if (agent !== undefined && agent !== "") config.agent = agent;

  return new Promise((resolve, reject) => {
    const client = new Client();
    let connected = sock !== undefined;
    let settled = false;
    const onError = (err: Error & { level?: string; code?: string }) => {
      // ssh2 reports one failure more than once: a timeout, then "Connection lost before handshake"
      // when it closes the socket. This listener stays for good, because an 'error' event nobody
      // listens to is an uncaught exception, which Pulumi's dynamic-provider host printed as a raw
      // stack trace under the stack, once per attempt. (After the login, Session listens too.)
      if (settled) return;
      settled = true;
      client.removeListener("ready", onReady);
      client.end();
      const { presented, expected } = check.state;
      if (err.level === "client-timeout") {
        const stage = !connected ? "tcp" : presented !== undefined ? "login" : remoteIdent(client) === undefined ? "greeting" : "handshake";
        reject(new SshTimeoutError(target, describeTimeout(stage, waitMs, c.port, remoteIdent(client)), { cause: err }));
      } else if (presented === undefined) {
        reject(new SshConnectionError(target, describeDialError(err), { cause: err }));
      } else if (/verification failed/i.test(err.message)) {
        reject(new HostKeyMismatchError(target, expected, presented));
      } else {
        const permanent = err.level === "client-authentication" || /Cannot parse privateKey|passphrase/i.test(err.message);
        reject(new SshConnectionError(target, describeDialError(err), { cause: err, permanent }));
      }
    };
    const onReady = () => {
      settled = true;
      resolve(client);
    };
    client.once("ready", onReady);
    client.on("error", onError);
    client.once("connect", () => (connected = true));
    try {
      client.connect(config);
      // The handshake and every channel are a few small packets each way: with Nagle's algorithm
      // on, each waits for the host's delayed ACK (40 ms on Linux), which made a login take ~0.3 s
      // on loopback instead of ~0.07 s. The socket exists now and takes the option before it
      // connects, so it holds from the first packet.
      client.setNoDelay(true);
    } catch (err) {
      // ssh2 throws synchronously on a private key it cannot parse (or decrypt).
      settled = true;
      const message = err instanceof Error ? err.message : String(err);
      reject(new SshConnectionError(target, `connection.privateKey: ${message} (check the key text and its passphrase)`, { permanent: true }));
    }
  });
}

function describeDialError(err: Error & { level?: string; code?: string }): string {
  if (err.level === "client-authentication") {
    return "authentication failed: check connection.user and its privateKey/passphrase, password or agent";
  }
  if (err.code === "ECONNREFUSED") return "connection refused: is sshd running and is the port right?";
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return `cannot resolve the host name (${err.code})`;
  if (err.code === "ECONNRESET") return "the connection was reset before the login finished";
  if (/Connection lost before handshake/.test(err.message)) return "the host closed the connection before the SSH handshake (sshd refusing connections, or not sshd on that port?)";
  return err.message;
}

type Stage = "tcp" | "greeting" | "handshake" | "login";

/** A time-out's message: how far the dial got says what is wrong with the host. */
function describeTimeout(stage: Stage, waitMs: number, port: number, ident: string | undefined): string {
  const within = `within ${Number((waitMs / 1000).toFixed(1))}s`;
  const what = {
    tcp: `no TCP connection ${within}: the host is down or unreachable, or a firewall drops the packets`,
    greeting: `the host accepted the TCP connection but sent no SSH greeting ${within}: the machine may be hung, or what listens on port ${port} is not sshd`,
    handshake: `the host sent an SSH greeting (${ident ?? "?"}) but did not finish the key exchange ${within}`,
    login: `the host key was verified but the login did not finish ${within}`,
  }[stage];
  return `${what}; connection.timeoutSeconds sets how long to wait (default ${DEFAULT_TIMEOUT_SECONDS}s)`;
}

/**
 * The server's identification line once ssh2 has read it (ssh2 keeps it in a private field and
 * emits no event for it), printable characters only. Without it, a hung host that never sent one
 * and an sshd stuck in the key exchange would read alike.
 */
function remoteIdent(client: Client): string | undefined {
  const v = (client as unknown as { _remoteVer?: unknown })._remoteVer;
  return typeof v === "string" && v !== "" ? v.replace(/[^\x20-\x7e]/g, "?").slice(0, 60) : undefined;
}
