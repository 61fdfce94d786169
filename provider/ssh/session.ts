import type { Client } from "ssh2";
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
