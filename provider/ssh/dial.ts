import { Client, type ConnectConfig } from "ssh2";
import { HostKeyMismatchError, SshConnectionError } from "../errors.js";
import { describeTarget, withDefaults, type ConnectionSpec } from "./connection.js";
import { parseHostKeyPin, sha256Fingerprint } from "./fingerprint.js";

/** Per-dial timeout for the TCP connect and SSH handshake. */
export const READY_TIMEOUT_MS = 20_000;
/** Interval between SSH keepalive packets on an idle connection. */
export const KEEPALIVE_INTERVAL_MS = 15_000;

/**
 * Opens one SSH connection, verifying the host key before any credential is sent. Resolves with a
 * ready client; rejects with {@link HostKeyMismatchError} or {@link SshConnectionError}.
 */
export function dial(spec: ConnectionSpec): Promise<Client> {
  const c = withDefaults(spec);
  const target = describeTarget(c);
  const expected = c.hostKey === undefined ? undefined : parseHostKeyPin(c.hostKey);
  let presented: string | undefined;

  const config: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    readyTimeout: READY_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      presented = sha256Fingerprint(key);
      return expected !== undefined && presented === expected;
    },
  };
  if (c.privateKey !== undefined) config.privateKey = c.privateKey;
  if (c.passphrase !== undefined) config.passphrase = c.passphrase;
  if (c.password !== undefined) config.password = c.password;
  const agent = c.agent ?? process.env["SSH_AUTH_SOCK"];
  if (agent !== undefined && agent !== "") config.agent = agent;

  return new Promise((resolve, reject) => {
    const client = new Client();
    const onError = (err: Error) => {
      client.removeListener("ready", onReady);
      client.end();
      if (presented !== undefined && presented !== expected) {
        reject(new HostKeyMismatchError(target, expected ?? "(no usable pin)", presented));
      } else {
        reject(new SshConnectionError(target, describeDialError(err), { cause: err }));
      }
    };
    const onReady = () => {
      client.removeListener("error", onError);
      resolve(client);
    };
    client.once("ready", onReady);
    client.once("error", onError);
    client.connect(config);
  });
}

function describeDialError(err: Error & { level?: string; code?: string }): string {
  if (err.level === "client-authentication") {
    return "authentication failed: check connection.user and its privateKey/passphrase, password or agent";
  }
  if (err.code === "ECONNREFUSED") return "connection refused: is sshd running and is the port right?";
  if (/Timed out while waiting for handshake/.test(err.message)) return `no SSH handshake within ${READY_TIMEOUT_MS / 1000}s`;
  return err.message;
}
