import { randomBytes } from "node:crypto";
import { StringDecoder } from "node:string_decoder";
import type { ClientChannel } from "ssh2";
import type { Host } from "../host/host.js";
import { DEFAULT_EXEC_TIMEOUT_MS } from "../ssh/exec.js";
import { poolKey } from "../ssh/pool.js";
import { traceCommand } from "../ssh/trace.js";
import { commandLine, markLines, takeReply, type Reply } from "./shell-frame.js";

// One interactive virsh per host, kept open while a deployment works there: one libvirt connection
// and no new process for each quick command (a state, an XML, a listing, an undefine), instead of a
// virsh process and its connection to libvirtd each time. Commands are written as they come (virsh
// runs them in order) and their replies split by marks (shell-frame.ts). Whatever goes wrong with
// the shell itself (it cannot start, this virsh has no `echo --err`, the channel or libvirt's
// connection is lost) makes {@link runInShell} answer undefined, and the caller runs its command
// the one-process way, which reports any error exactly as before. PULUMI_OVMF_VIRSH_SHELL=off makes
// every command go the one-process way.

/** A shell with nothing to do closes after this long (the next command opens another). */
export const SHELL_IDLE_MS = 1000;
/** After a shell could not start on a host, commands there go the one-process way for this long. */
export const SHELL_RETRY_MS = 30_000;

// libvirt's connection itself went away under virsh: the command's result says nothing about the domain.
const LOST = /Disconnected from|client socket is closed|no valid connection|failed to connect to the hypervisor|Cannot recv data|cannot send data|End of file while reading/i;

interface Pending {
  i: number;
  sent: string[];
  argv: readonly string[];
  queued: number;
  resolve: (reply: Reply | undefined) => void;
}

class VirshShell {
  closed = false;
  /** Set when the shell closed because its replies could not be read. */
  refused = false;
  /** Called once when the shell closes. */
  onClose: () => void = () => undefined;
  private readonly nonce = `pulumi-ovmf-${randomBytes(12).toString("hex")}`;
  private next = 0;
  private out = "";
  private err = "";
  private lastErrLine = "";
  private readonly pending: Pending[] = [];
  private idle: NodeJS.Timeout | undefined;
  private timeout: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: Host,
    private readonly channel: ClientChannel,
  ) {
    // A character split between two chunks (a name or a description in UTF-8) is decoded whole.
    const [out, err] = [new StringDecoder("utf8"), new StringDecoder("utf8")];
    channel.on("data", (d: Buffer) => {
      this.out += out.write(d);
      this.settle();
    });
    channel.stderr.on("data", (d: Buffer) => {
      this.err += err.write(d);
      this.settle();
    });
    channel.on("close", () => this.close());
    channel.on("error", () => this.close());
  }

  /** Runs argv in this shell; undefined when the shell cannot tell what happened. */
  async run(argv: readonly string[]): Promise<Reply | undefined> {
    const line = commandLine(argv);
    if (this.closed || line === undefined) return undefined;
    const queued = performance.now();
    await this.host.faultPoint();
    if (this.closed) return undefined;
    // Numbered once nothing is awaited any more, so that the lines go out in the order of the numbers.
    const i = this.next++;
    const lines: [string, string, string] = [line, ...markLines(this.nonce, i)];
    clearTimeout(this.idle);
    const reply = new Promise<Reply | undefined>((resolve) => this.pending.push({ i, sent: [this.lastErrLine, ...lines], argv, queued, resolve }));
    this.lastErrLine = lines[2];
    this.channel.write(`${lines.join("\n")}\n`);
    this.armTimeout();
    return reply;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    clearTimeout(this.idle);
    clearTimeout(this.timeout);
    for (const p of this.pending.splice(0)) p.resolve(undefined);
    this.channel.end();
    this.channel.destroy();
  }

  private settle(): void {
    for (let head = this.pending[0]; head !== undefined; head = this.pending[0]) {
      const taken = takeReply(this.out, this.err, this.nonce, head.i, head.sent);
      if (taken === undefined) return;
      this.pending.shift();
      [this.out, this.err] = [taken.out, taken.err];
      const reply = taken.reply;
      traceCommand(this.host.target, ["virsh-shell", ...head.argv], 0, performance.now() - head.queued, reply === "garbled" ? null : reply.code);
      if (reply === "garbled" || LOST.test(reply.stderr)) {
        // A shell whose replies cannot be read is not used on this host for a while.
        this.refused = reply === "garbled";
        head.resolve(undefined);
        this.close();
        return;
      }
      head.resolve(reply);
      this.armTimeout();
    }
  }

  private armTimeout(): void {
    clearTimeout(this.timeout);
    if (this.pending.length > 0) {
      this.timeout = setTimeout(() => this.close(), DEFAULT_EXEC_TIMEOUT_MS);
      return;
    }
    this.idle = setTimeout(() => this.close(), SHELL_IDLE_MS);
    this.idle.unref();
  }
}

// readline echoes a line wider than its screen scrolled (a carriage return, "<", the line's end):
// the screen is made wider than any command. No history is kept (no cache directory to write to).
const COLUMNS = 1_000_000;

interface Registry {
  shells: Map<string, Promise<VirshShell | undefined>>;
  refusedUntil: Map<string, number>;
}
// One registry per provider process, on globalThis like the SSH pool (never in serialized code).
const KEY = Symbol.for("pulumi-ovmf.virsh-shells");
function registry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  return (g[KEY] ??= { shells: new Map(), refusedUntil: new Map() });
}

// A shell serves only the connection it was opened for: the same credentials and pin (the pool's
// key), with or without sudo.
const shellKey = (host: Host) => `${poolKey(host.spec)}${host.spec.sudo === true ? " (sudo)" : ""}`;

async function open(host: Host, uri: string): Promise<VirshShell | undefined> {
  const channel = await host.openStream(["env", "LC_ALL=C", "TERM=dumb", `COLUMNS=${COLUMNS}`, "XDG_CACHE_HOME=/dev/null", "virsh", "-q", "-c", uri]).catch(() => undefined);
  if (channel === undefined) return undefined;
  const shell = new VirshShell(host, channel);
  // The first command proves the shell: virsh connected and knows `echo --err` (older ones go the one-process way).
  const hello = await shell.run(["uri"]);
  if (hello?.code === 0 && hello.stdout.trim() === uri) return shell;
  shell.close();
  return undefined;
}

/**
 * Runs one quick virsh command (argv without "virsh") in the host's shell. Undefined when it could
 * not be run there or its result is unknown (the caller then runs it the one-process way).
 */
export async function runInShell(host: Host, uri: string, argv: readonly string[]): Promise<Reply | undefined> {
  if (process.env["PULUMI_OVMF_VIRSH_SHELL"] === "off") return undefined;
  const r = registry();
  const key = shellKey(host);
  if ((r.refusedUntil.get(key) ?? 0) > Date.now()) return undefined;
  let opening = r.shells.get(key);
  if (opening === undefined) {
    // Every caller that comes while it opens waits for the same shell.
    const forget = () => {
      if (r.shells.get(key) === opening) r.shells.delete(key);
    };
    opening = open(host, uri).then((shell) => {
      if (shell === undefined) {
        r.refusedUntil.set(key, Date.now() + SHELL_RETRY_MS);
        forget();
      } else
        shell.onClose = () => {
          if (shell.refused) r.refusedUntil.set(key, Date.now() + SHELL_RETRY_MS);
          forget();
        };
      return shell;
    });
    r.shells.set(key, opening);
  }
  return (await opening)?.run(argv);
}

/** Closes every shell (tests; a provider process's shells close when idle). */
export function closeShells(): void {
  const r = registry();
  for (const s of r.shells.values()) void s.then((shell) => shell?.close());
  r.shells.clear();
  r.refusedUntil.clear();
}
