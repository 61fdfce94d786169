import type { Readable, Writable } from "node:stream";
import type { Client } from "ssh2";
import { SshConnectionError } from "../errors.js";
import { shellCommand } from "./quote.js";

/** What a remote command did. Failure is decided by `code`, never by stderr (virsh warns there). */
export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** {@link ExecResult} with stdout as bytes (file contents). Empty when stdout was streamed to a sink. */
export interface RawExecResult extends Omit<ExecResult, "stdout"> {
  stdout: Buffer;
}

export interface ExecOptions {
  /** Bytes for the command's stdin (then EOF), or a stream piped into it with backpressure. */
  stdin?: string | Buffer | Readable;
  /** Where stdout goes, streamed, instead of being collected. */
  stdout?: Writable;
  /** Gives up (closing the channel) after this long. Default: {@link DEFAULT_EXEC_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Called once the server has accepted the command (it runs on the host from now on). */
  onStart?: () => void;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 5 * 60_000;

/**
 * Runs argv on one new channel of `client`, every argument shell-quoted. Rejects with
 * {@link SshConnectionError} when the channel cannot be opened, the connection is lost before the
 * command exits, or the timeout passes; otherwise resolves whatever the exit code.
 */
export function execOnChannel(client: Client, target: string, argv: readonly string[], options: ExecOptions = {}): Promise<RawExecResult> {
  const command = shellCommand(argv);
  const what = argv[0] ?? "command";
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(new ChannelOpenError(target, `could not open a channel for ${what}: ${err.message}`, { cause: err }));
        return;
      }
      options.onStart?.();
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let code: number | null = null;
      let signal: string | null = null;
      let exited = false;
      let settled = false;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeListener("close", onLost);
        f();
      };
      const onLost = () =>
        finish(() => reject(new SshConnectionError(target, `connection lost while running ${what}`)));
      const timer = setTimeout(() => {
        finish(() => reject(new SshConnectionError(target, `${what} did not finish within ${timeoutMs / 1000}s`)));
        channel.close();
      }, timeoutMs);
      client.once("close", onLost);
      channel.on("exit", (c: number | null, s?: string) => {
        exited = true;
        code = c;
        signal = s ?? null;
      });
      if (options.stdout !== undefined) channel.pipe(options.stdout, { end: false });
      else channel.on("data", (d: Buffer) => out.push(d));
      channel.stderr.on("data", (d: Buffer) => errOut.push(d));
      channel.on("close", () => {
        if (!exited) return onLost();
        finish(() => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut).toString("utf8") }));
      });
      const stdin = options.stdin;
      if (stdin === undefined) channel.end();
      else if (typeof stdin === "string" || Buffer.isBuffer(stdin)) channel.end(stdin);
      else {
        stdin.on("error", (e: Error) => finish(() => { channel.close(); reject(e); }));
        stdin.pipe(channel);
      }
    });
  });
}

/** The server refused a new channel (e.g. sshd's MaxSessions): the caller may retry on a free slot. */
export class ChannelOpenError extends SshConnectionError {
  override name = "ChannelOpenError";
}
