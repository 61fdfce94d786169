import type { Duplex } from "node:stream";
import type { Client, ClientChannel } from "ssh2";
import { shellCommand } from "./quote.js";
import type { Dialed } from "./dial.js";
import { ChannelOpenError, execOnChannel, type ExecOptions, type RawExecResult } from "./exec.js";
import { SshConnectionError } from "../errors.js";
import { faultDelayMs } from "./fault.js";
import { traceCommand } from "./trace.js";

/** Channels open at once per connection: OpenSSH's default MaxSessions. */
export const MAX_CHANNELS = 10;

/**
 * One SSH connection shared by concurrent operations. Channels beyond the limit wait in a queue
 * instead of failing; if the server allows fewer than the limit, the limit drops to what it allows.
 */
export class Session {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private limit: number;
  closed = false;
  lastUsed = Date.now();

  constructor(
    readonly target: string,
    private readonly dialed: Dialed,
    limit = MAX_CHANNELS,
  ) {
    this.limit = limit;
    const client: Client = dialed.client;
    // One "close" listener per open channel (see execOnChannel) plus the session's own.
    client.setMaxListeners(limit + 10);
    client.on("close", () => this.markClosed());
    // Errors after the handshake (reset, keepalive timeout) end in "close"; keep them from throwing.
    client.on("error", () => this.markClosed());
  }

  /** Runs argv on its own channel once a slot is free. */
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<RawExecResult> {
    const queued = performance.now();
    for (;;) {
      await this.acquire();
      const started = performance.now();
      try {
        const cut = faultDelayMs();
        const run = cut === undefined ? options : { ...options, onStart: () => setTimeout(() => this.dialed.client.destroy(), cut) };
        const result = await execOnChannel(this.dialed.client, this.target, argv, run);
        traceCommand(this.target, argv, started - queued, performance.now() - started, result.code);
        return result;
      } catch (err) {
        // The server refused the channel while others were open: wait for one to close, then retry.
        if (!(err instanceof ChannelOpenError) || this.closed || this.active <= 1) throw err;
        this.limit = Math.max(1, this.active - 1);
      } finally {
        this.release();
      }
    }
  }

  /**
   * Runs argv on its own channel and hands over the channel itself, a byte stream both ways (for
   * a protocol spoken through a helper on the host, e.g. libvirt's virt-ssh-helper). The channel
   * holds a slot until it closes.
   */
  async openStream(argv: readonly string[]): Promise<ClientChannel> {
    await this.acquire();
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) =>
        this.dialed.client.exec(shellCommand(argv), (err, ch) => (err ? reject(new ChannelOpenError(this.target, `could not open a channel for ${argv[0] ?? "a stream"}: ${err.message}`, { cause: err })) : resolve(ch))),
      );
      let released = false;
      channel.on("close", () => {
        if (released) return;
        released = true;
        this.release();
      });
      return channel;
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /**
   * Makes the host's sshd listen on a UNIX socket at `socketPath` (OpenSSH's streamlocal
   * forwarding) and hands every connection made to it to `onConnection`. Returns the function
   * that stops listening. The socket belongs to the login user, mode 0600 (sshd's default mask).
   */
  async listenUnix(socketPath: string, onConnection: (stream: Duplex) => void): Promise<() => Promise<void>> {
    const client = this.dialed.client;
    const handler = (info: { socketPath: string }, accept: () => Duplex) => {
      if (info.socketPath === socketPath) onConnection(accept());
    };
    client.on("unix connection", handler);
    try {
      await new Promise<void>((resolve, reject) => client.openssh_forwardInStreamLocal(socketPath, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      client.removeListener("unix connection", handler);
      throw new SshConnectionError(this.target, `the SSH server refused to listen on ${socketPath} for the provider (sshd's AllowStreamLocalForwarding must allow remote forwarding): ${(err as Error).message}`);
    }
    return async () => {
      client.removeListener("unix connection", handler);
      if (this.closed) return;
      await new Promise<void>((resolve) => client.openssh_unforwardInStreamLocal(socketPath, () => resolve()));
    };
  }

  /**
   * Counts a command that runs without a channel of its own (one written to a long-running program
   * on the host) for fault injection, as {@link exec} counts each channel's command.
   */
  faultPoint(): void {
    const cut = faultDelayMs();
    if (cut !== undefined) setTimeout(() => this.dialed.client.destroy(), cut);
  }

  /** Milliseconds since the last channel closed; 0 while any channel is open. */
  idleMs(): number {
    return this.active > 0 ? 0 : Date.now() - this.lastUsed;
  }

  close(): void {
    this.markClosed();
    this.dialed.close();
  }

  private acquire(): Promise<void> {
    if (this.closed) return Promise.reject(new SshConnectionError(this.target, "connection closed"));
    this.lastUsed = Date.now();
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => { this.active++; resolve(); }));
  }

  private release(): void {
    this.active--;
    this.lastUsed = Date.now();
    while (this.active < this.limit && this.waiting.length > 0) this.waiting.shift()?.();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    // Queued operations proceed and fail fast with a connection error; the pool re-dials next time.
    while (this.waiting.length > 0) this.waiting.shift()?.();
  }
}
