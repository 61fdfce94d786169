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

export interface ExecOptions {
  /** Bytes written to the command's stdin, then EOF. */
  stdin?: string | Buffer;
  /** Kills the wait (and closes the channel) after this long. Default: 5 minutes. */
  timeoutMs?: number;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 5 * 60_000;

/** Runs argv on the host over one SSH channel, every argument shell-quoted. */
export function exec(client: Client, target: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const command = shellCommand(argv);
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(new SshConnectionError(target, `could not open a channel for ${argv[0]}: ${err.message}`, { cause: err }));
        return;
      }
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let code: number | null = null;
      let signal: string | null = null;
      const timer = setTimeout(() => {
        channel.close();
        reject(new SshConnectionError(target, `${argv[0]} did not finish within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      channel.on("data", (d: Buffer) => out.push(d));
      channel.stderr.on("data", (d: Buffer) => errOut.push(d));
      channel.on("exit", (c: number | null, s?: string) => {
        code = c;
        signal = s ?? null;
      });
      channel.on("close", () => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") });
      });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  });
}
