import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { HostKeyMismatchError, SshConnectionError } from "../errors.js";
import { describeTarget, withDefaults, type ConnectionSpec } from "./connection.js";
import { parseHostKeyPin, sha256Fingerprint } from "./fingerprint.js";
import { knownHostsName, verifyKnownHosts } from "./known-hosts.js";

/** Per-dial timeout for the TCP connect and SSH handshake. */
export const READY_TIMEOUT_MS = 20_000;
/** Interval between SSH keepalive packets; three unanswered ones drop the connection. */
export const KEEPALIVE_INTERVAL_MS = 15_000;
/** Dial attempts before giving up, with exponential backoff from {@link RETRY_BASE_DELAY_MS}. */
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
}

/**
 * Opens an SSH connection, verifying the host key (pin or known_hosts) before any credential is
 * sent, through the jump host if one is given. Transient failures are retried with backoff; a host
 * key mismatch or an authentication failure is not, since retrying cannot fix it.
 */
export async function dial(spec: ConnectionSpec, options: DialOptions = {}): Promise<Dialed> {
  const attempts = options.attempts ?? DIAL_ATTEMPTS;
  const base = options.baseDelayMs ?? RETRY_BASE_DELAY_MS;
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await dialThrough(spec);
    } catch (err) {
      last = err;
      if (isPermanent(err) || attempt === attempts) break;
      await new Promise((r) => setTimeout(r, base * 2 ** (attempt - 1)));
    }
  }
  if (isPermanent(last) || attempts === 1) throw last;
  const cause = last instanceof SshConnectionError ? last.detail : last instanceof Error ? last.message : String(last);
  throw new SshConnectionError(describeTarget(spec), `could not connect after ${attempts} attempts: ${cause}`, { cause: last });
}

function isPermanent(err: unknown): boolean {
  return err instanceof HostKeyMismatchError || (err instanceof SshConnectionError && err.permanent);
}

async function dialThrough(spec: ConnectionSpec): Promise<Dialed> {
  if (spec.jumpHost === undefined) {
    const client = await dialOnce(spec);
    return { client, close: () => client.end() };
  }
  const jump = await dial(spec.jumpHost, { attempts: 1 });
  try {
    const c = withDefaults(spec);
    const sock = await new Promise<ClientChannel>((resolve, reject) =>
      jump.client.forwardOut("127.0.0.1", 0, c.host, c.port, (err, stream) => (err ? reject(err) : resolve(stream))),
    ).catch((err: Error) => {
      throw new SshConnectionError(describeTarget(spec), `the jump host could not open a tunnel: ${err.message}`, { cause: err });
    });
    const client = await dialOnce(spec, sock);
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

function dialOnce(spec: ConnectionSpec, sock?: ClientChannel): Promise<Client> {
  const c = withDefaults(spec);
  const target = describeTarget(c);
  const check = hostKeyCheck(c);
  const config: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    readyTimeout: READY_TIMEOUT_MS,
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
    const onError = (err: Error & { level?: string; code?: string }) => {
      client.removeListener("ready", onReady);
      client.end();
      const { presented, expected } = check.state;
      if (err.level === "client-timeout" || presented === undefined) {
        reject(new SshConnectionError(target, describeDialError(err), { cause: err }));
      } else if (/verification failed/i.test(err.message)) {
        reject(new HostKeyMismatchError(target, expected, presented));
      } else {
        const permanent = err.level === "client-authentication" || /Cannot parse privateKey|passphrase/i.test(err.message);
        reject(new SshConnectionError(target, describeDialError(err), { cause: err, permanent }));
      }
    };
    const onReady = () => {
      client.removeListener("error", onError);
      resolve(client);
    };
    client.once("ready", onReady);
    client.once("error", onError);
    try {
      client.connect(config);
      // The handshake and every channel are a few small packets each way: with Nagle's algorithm
      // on, each waits for the host's delayed ACK (40 ms on Linux), which made a login take ~0.3 s
      // on loopback instead of ~0.07 s. The socket exists now and takes the option before it
      // connects, so it holds from the first packet.
      client.setNoDelay(true);
    } catch (err) {
      // ssh2 throws synchronously on a private key it cannot parse (or decrypt).
      client.removeListener("error", onError);
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
  if (err.level === "client-timeout" || /Timed out while waiting for handshake/.test(err.message)) {
    return `no SSH handshake within ${READY_TIMEOUT_MS / 1000}s`;
  }
  return err.message;
}
