import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Authenticated connections sshd has logged so far for a user ("Accepted <method> for <user>"). */
export function acceptedLogins(logFile: string, user: string): number {
  const log = readFileSync(logFile, "utf8");
  return log.split("\n").filter((l) => l.startsWith(`Accepted `) && l.includes(` for ${user} from `)).length;
}

/** PIDs of local processes whose command line contains `marker`. */
export function pidsMatching(marker: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", "--", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits until a process whose command line contains `marker` runs; returns its pid. */
export async function waitForProcess(marker: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [pid] = pidsMatching(marker);
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no process matching ${marker} within ${timeoutMs}ms`);
}

/**
 * Kills the sshd session process serving the command `pid` runs in (the command's parent), which
 * drops that SSH connection's TCP socket as a network failure would.
 */
export function killSshSessionOf(pid: number): void {
  const ppid = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
  const comm = readFileSync(`/proc/${ppid}/cmdline`, "utf8");
  if (!comm.startsWith("sshd:")) throw new Error(`parent of ${pid} is not an sshd session: ${comm}`);
  process.kill(ppid, "SIGKILL");
}
