const SAFE = /^[A-Za-z0-9_/.,:=@%+-]+$/;

/** Quotes one argument for a POSIX shell so that it arrives byte for byte as a single word. */
export function shellQuote(arg: string): string {
  if (arg.length > 0 && SAFE.test(arg)) return arg;
  return "'" + arg.replace(/'/g, "'\\''") + "'";
}

/** Joins an argv array into one command line for the remote shell, every argument quoted. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("shellCommand: empty argv");
  return argv.map(shellQuote).join(" ");
}
