import { createHash } from "node:crypto";
import { SshTimeoutError } from "../errors.js";
import { describeTarget, withDefaults, type ConnectionSpec } from "./connection.js";
import { dial, timeLimitMs } from "./dial.js";
import { Session } from "./session.js";

/** Idle pooled connections close after this long. */
export const IDLE_CLOSE_MS = 60_000;

interface Pool {
  sessions: Map<string, Promise<Session>>;
  handshakes: number;
  sweeper?: NodeJS.Timeout;
}

// The pool lives on globalThis (one per dynamic-provider process, shared by every resource and by
// every copy of this module), never in code Pulumi serializes.
const KEY = Symbol.for("pulumi-ovmf.ssh-pool");
function pool(): Pool {
  const g = globalThis as { [KEY]?: Pool };
  if (g[KEY] === undefined) {
    g[KEY] = { sessions: new Map(), handshakes: 0 };
    process.once("exit", closeAll);
  }
  return g[KEY];
}

/**
 * Pool key: user, host, port and jump host, plus a digest of the verification and credential
 * fields, so that a connection opened with one pin or key never serves a request made with another.
 */
export function poolKey(spec: ConnectionSpec): string {
  const secret = createHash("sha256")
    .update(JSON.stringify([spec.hostKey, spec.knownHosts, spec.privateKey, spec.passphrase, spec.password, spec.agent]))
    .digest("hex")
    .slice(0, 16);
  const jump = spec.jumpHost === undefined ? "" : ` via (${poolKey(spec.jumpHost)})`;
  const c = withDefaults(spec);
  return `${c.user}@${c.host}:${c.port}#${secret}${jump}`;
}

/**
 * The pooled connection for `spec`, dialing (again) when there is none or it was lost. Callers that
 * come while a dial is under way share its outcome, failure included: dialing again at once would
 * make them wait as long again for the same host.
 */
export async function getSession(spec: ConnectionSpec): Promise<Session> {
  const p = pool();
  const key = poolKey(spec);
  const existing = p.sessions.get(key);
  if (existing !== undefined) {
    const session = await existing;
    if (!session.closed) return session;
    if (p.sessions.get(key) === existing) p.sessions.delete(key);
  }
  const dialing = dial(spec).then((dialed) => {
    p.handshakes++;
    return new Session(describeTarget(spec), dialed);
  });
  p.sessions.set(key, dialing);
  dialing.catch((err: unknown) => {
    if (p.sessions.get(key) !== dialing) return;
    // A host that did not answer within the time limit is not waited for again until as long has
    // passed: an operation that falls back to another command (the virsh shell, then virsh) or a
    // preview check that skips and goes on would otherwise wait the whole limit once more.
    // A refused or reset connection is dialed again by the next caller.
    if (!(err instanceof SshTimeoutError)) return void p.sessions.delete(key);
    setTimeout(() => {
      if (p.sessions.get(key) === dialing) p.sessions.delete(key);
    }, timeLimitMs(spec)).unref();
  });
  startSweeper(p);
  return dialing;
}

/** Connections this process has opened through the pool (handshakes completed). */
export function handshakeCount(): number {
  return pool().handshakes;
}

/** Closes every pooled connection. */
export function closeAll(): void {
  const p = pool();
  for (const s of p.sessions.values()) void s.then((session) => session.close(), () => undefined);
  p.sessions.clear();
}

function startSweeper(p: Pool): void {
  if (p.sweeper !== undefined) return;
  p.sweeper = setInterval(() => {
    for (const [key, s] of p.sessions) {
      void s.then(
        (session) => {
          if (session.closed || session.idleMs() > IDLE_CLOSE_MS) {
            if (p.sessions.get(key) === s) p.sessions.delete(key);
            session.close();
          }
        },
        () => undefined,
      );
    }
  }, 5_000);
  p.sweeper.unref();
}
