/**
 * Waits until a VM's serial log on the test host shows what OVMF did with the unsigned EFI shell,
 * and prints those lines: the proof that Secure Boot is enforced (or not).
 *   node scripts/serial-proof.mts TESTHOST_JSON DOMAIN SERIAL_LOG_PATH [TIMEOUT_SECONDS]
 * Exits 0 when Secure Boot refused the shell, 1 when the shell started, 2 on timeout, 3 when the
 * domain is not running: libvirt empties the serial log at every start, so only a running domain's
 * log is from its current boot (a shut-off domain's log is an old one, and proves nothing).
 */
import { readFileSync } from "node:fs";
import { Host } from "../dist/provider/host/host.js";
import { readFile, stat } from "../dist/provider/host/files.js";
import { domstateReason } from "../dist/provider/libvirt/virsh.js";
import { closeAll } from "../dist/provider/ssh/pool.js";

const [jsonPath, domain, logPath, timeoutArg] = process.argv.slice(2);
if (jsonPath === undefined || domain === undefined || logPath === undefined) {
  console.error("usage: node scripts/serial-proof.mts TESTHOST_JSON DOMAIN SERIAL_LOG_PATH [TIMEOUT_SECONDS]");
  process.exit(2);
}
const th = JSON.parse(readFileSync(jsonPath, "utf8"));
const host = new Host({ host: th.host, port: th.port, user: th.user, privateKey: readFileSync(th.privateKeyPath, "utf8"), hostKey: th.hostKey });
const state = await domstateReason(host, domain);
if (state.state !== "running") {
  console.log(`domain "${domain}" on ${host.target} is not running (virsh domstate --reason: "${state.state} (${state.reason})"): its serial log is from an earlier boot and proves nothing. Start it (pulumi up --refresh) and try again.`);
  closeAll();
  process.exit(3);
}
const deadline = Date.now() + Number(timeoutArg ?? 300) * 1000;
let waited = 0;
let code = 2;
while (Date.now() < deadline) {
  // OVMF draws its screen with ANSI escapes; strip them to read the lines.
  // eslint-disable-next-line no-control-regex
  const log = (await stat(host, logPath)) === undefined ? "" : (await readFile(host, logPath)).toString("latin1").replace(/\x1b\[[0-9;=]*[A-Za-z]/g, "");
  const lines = log.split(/\r?\n/).filter((l) => /BdsDxe|Shell>|Security Violation/.test(l));
  if (/Security Violation/.test(log)) {
    console.log(lines.join("\n"));
    console.log(`\nSecure Boot is enforced: OVMF refused to start the unsigned EFI shell (${logPath} on ${host.target}).`);
    code = 0;
    break;
  }
  if (/Shell>|UEFI Interactive Shell/.test(log)) {
    console.log(lines.join("\n"));
    console.log(`\nSecure Boot is NOT enforced: the unsigned EFI shell started.`);
    code = 1;
    break;
  }
  if (waited % 10 === 0) console.log(`waiting for OVMF to reach its boot manager (serial log ${logPath}, ${waited}s so far; under TCG emulation this takes a little while)`);
  await new Promise((r) => setTimeout(r, 2000));
  waited += 2;
}
if (code === 2) console.log(`no verdict in the serial log within ${timeoutArg ?? 300}s`);
closeAll();
process.exit(code);
