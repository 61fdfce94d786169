// The framing of commands sent to one long-running interactive virsh (see virsh-shell.ts). Each
// request is three lines: the command, `echo` of a stdout mark and `echo --err` of a stderr mark.
// Each mark is quoted in two parts on its own line (`'NONCE'-7-o`), so the echoed input line never
// holds the mark the command prints. Pure.

/** The prompts virsh prints before it reads a line: read-write and read-only. */
export const PROMPTS = ["virsh # ", "virsh > "] as const;

/**
 * `arg` as a token of virsh's own command line, or undefined when the line is not sure to carry it
 * as it is: only printable ASCII goes (a newline ends the line, a tab asks readline to complete, and
 * readline may turn a byte above 127 into a key sequence). Pure.
 */
export function virshToken(arg: string): string | undefined {
  if (arg === "") return "''";
  if (!/^[\x20-\x7e]+$/.test(arg)) return undefined;
  if (/^[A-Za-z0-9._:+@/=,-]+$/.test(arg)) return arg;
  // As in a POSIX shell: no escape inside single quotes, a quote is closed, escaped and reopened.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv as one line of virsh's command line, or undefined when an argument cannot go on a line. Pure. */
export function commandLine(argv: readonly string[]): string | undefined {
  const tokens = argv.map(virshToken);
  return tokens.some((t) => t === undefined) ? undefined : tokens.join(" ");
}

/** The lines request `i` sends after its command line: its marks on stdout and on stderr. Pure. */
export const markLines = (nonce: string, i: number): [string, string] => [`echo '${nonce}'-${i}-o`, `echo --err '${nonce}'-${i}-e`];

/** The lines request `i` sends, or undefined when an argument cannot go on a line. Pure. */
export function requestLines(nonce: string, i: number, argv: readonly string[]): [string, string, string] | undefined {
  const line = commandLine(argv);
  return line === undefined ? undefined : [line, ...markLines(nonce, i)];
}

export interface Reply {
  stdout: string;
  stderr: string;
  /** 1 when virsh reported an error for the command (it prints "error: ..." and goes on). */
  code: number;
}

/**
 * The reply to request `i` when both of its marks have arrived, with what is left of each stream
 * after them; undefined while either is missing. `sent` are the lines virsh may have echoed in
 * front of this request's output (readline echoes its input when it reads from a pipe, exactly
 * when the line fits its screen width: see virsh-shell.ts); "garbled" when something else was
 * echoed there, so that the output cannot be told apart from it. Pure.
 */
export function takeReply(out: string, err: string, nonce: string, i: number, sent: readonly string[]): { reply: Reply | "garbled"; out: string; err: string } | undefined {
  const outMark = `${nonce}-${i}-o`;
  const errMark = `${nonce}-${i}-e`;
  const outAt = out.indexOf(outMark);
  const errAt = err.indexOf(errMark);
  if (outAt < 0 || errAt < 0) return undefined;
  let stdout = out.slice(0, outAt);
  for (const p of PROMPTS) for (const line of sent) stdout = stdout.split(`${p}${line}\n`).join("");
  for (let trimmed = true; trimmed; ) {
    trimmed = false;
    for (const p of PROMPTS) {
      if (stdout.startsWith(p)) [stdout, trimmed] = [stdout.slice(p.length), true];
      if (stdout.endsWith(p)) [stdout, trimmed] = [stdout.slice(0, -p.length), true];
    }
  }
  const stderr = err.slice(0, errAt).replace(/error: $/, "");
  // An echo this did not recognise (a prompt or a carriage return left) makes the reply unknown.
  const garbled = PROMPTS.some((p) => stdout.includes(p)) || stdout.includes("\r");
  return {
    reply: garbled ? "garbled" : { stdout, stderr, code: /^error: /m.test(stderr) ? 1 : 0 },
    out: out.slice(outAt + outMark.length).replace(/^\n/, ""),
    err: err.slice(errAt + errMark.length).replace(/^\n/, ""),
  };
}
