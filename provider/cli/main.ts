#!/usr/bin/env node
// `npx pulumi-ovmf <command>`: the package's command line (package.json "bin").
import { CHECK_HOST_USAGE, runCheckHost } from "./check-host.js";

const USAGE = `Usage: pulumi-ovmf <command> [arguments]

Commands:
  check-host [user@]host[:port] [options]   what a libvirt host has and lacks for pulumi-ovmf

${CHECK_HOST_USAGE}`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "check-host") return runCheckHost(rest);
  if (command === "help" || command === "--help" || command === "-h") return (process.stdout.write(USAGE), 0);
  process.stderr.write(`${command === undefined ? "" : `pulumi-ovmf: unknown command "${command}"\n\n`}${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  // Exit at once: the SSH pool's sockets would otherwise keep the process alive until they close.
  // (Writes to a terminal, file or pipe are synchronous on Linux, so nothing printed is lost.)
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pulumi-ovmf: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
