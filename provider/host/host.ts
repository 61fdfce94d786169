import { RemoteCommandError, SudoError } from "../errors.js";
import { describeTarget, type ConnectionSpec } from "../ssh/connection.js";
import type { ExecOptions, ExecResult, RawExecResult } from "../ssh/exec.js";
import type { Duplex } from "node:stream";
import type { ClientChannel } from "ssh2";
import { getSession } from "../ssh/pool.js";

const SUDO_REFUSED = /^sudo: (a password is required|.*(not in the sudoers file|is not allowed to execute|may not run sudo))/m;

/**
 * A libvirt host reached over the pooled SSH connection. Every command is an argv array, quoted
 * for the remote shell, and runs with `sudo -n` when the connection asks for sudo.
 */
export class Host {
  readonly target: string;
  /** Equal for Hosts whose commands run alike: the same target, as the same user, with or without sudo. */
  readonly key: string;

  constructor(readonly spec: ConnectionSpec) {
    this.target = describeTarget(spec);
    this.key = spec.sudo === true ? `${this.target} (sudo)` : this.target;
  }

  /** Runs argv (privileged) and returns what happened, whatever the exit code. */
  async runRaw(argv: readonly string[], options: ExecOptions = {}): Promise<RawExecResult> {
    const session = await getSession(this.spec);
    const full = this.spec.sudo === true ? ["sudo", "-n", "--", ...argv] : argv;
    const result = await session.exec(full, options);
    if (this.spec.sudo === true && result.code === 1) {
      const refused = SUDO_REFUSED.exec(result.stderr);
      if (refused?.[1] !== undefined) {
        throw new SudoError(this.target, refused[1].startsWith("a password") ? "wants a password" : "refuses the user");
      }
    }
    return result;
  }

  /** Runs argv and returns stdout as text, whatever the exit code. */
  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.runRaw(argv, options);
    return { ...r, stdout: r.stdout.toString("utf8") };
  }

  /** A byte stream both ways to argv running on the host (privileged, as {@link run} is). */
  async openStream(argv: readonly string[]): Promise<ClientChannel> {
    const session = await getSession(this.spec);
    return session.openStream(this.spec.sudo === true ? ["sudo", "-n", "--", ...argv] : argv);
  }

  /** Counts a command written to a program already running on the host, for fault injection. */
  async faultPoint(): Promise<void> {
    (await getSession(this.spec)).faultPoint();
  }

  /** Connections to a UNIX socket the host's sshd listens on for us; returns the function that stops it. */
  async listenUnix(socketPath: string, onConnection: (stream: Duplex) => void): Promise<() => Promise<void>> {
    return (await getSession(this.spec)).listenUnix(socketPath, onConnection);
  }

  /** Runs argv and throws {@link RemoteCommandError} unless it exits 0. `what` names it in the error. */
  async check(argv: readonly string[], what: string, options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.run(argv, options);
    if (r.code !== 0) throw new RemoteCommandError(this.target, what, r.code, r.stderr);
    return r;
  }
}
