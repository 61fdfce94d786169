import { readFile, stat } from "../../provider/host/files.js";
import type { Host } from "../../provider/host/host.js";

/** Waits until a VM's serial log on the host matches `text` (OVMF prints its boot progress there). */
export async function waitForSerial(host: Host, file: string, text: RegExp, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let log = "";
  while (Date.now() < deadline) {
    log = (await stat(host, file)) === undefined ? "" : (await readFile(host, file)).toString("latin1");
    if (text.test(log)) return log;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`serial log ${file} did not show ${text} within ${timeoutMs / 1000}s; it holds:\n${log.slice(-2000)}`);
}
