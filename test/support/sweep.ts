import { existsSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { hostConnection, loadTestHost, REPO_ROOT, testHostFile } from "./testhost.js";

/**
 * The names this suite gives what it creates on the test hosts: domains, their NVRAM files
 * (`<name>_VARS.fd`) and serial logs. Nothing else is ever swept (the demo's "sb-demo" stays).
 */
export const SUITE_PREFIXES = ["ovmf-", "e2e-", "trust-", "fleet-", "pulumi-ovmf-kvm-probe-"];
/** The examples' own VM names, which their end-to-end tests deploy unchanged. */
export const SUITE_NAMES = ["shared-0", "shared-1", "shared-2", "mover"];
/** The suite's Pulumi stacks (file backends inside the projects): the demo's stack is not one. */
const SUITE_STACK = /^e2e-/;

export const isSuiteName = (name: string) => SUITE_NAMES.includes(name) || SUITE_PREFIXES.some((p) => name.startsWith(p));

async function sweepHost(host: Host): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await virsh.list(host)).filter(isSuiteName)) {
    await virsh.destroy(host, name);
    if (await virsh.exists(host, name)) await virsh.undefine(host, name, "keep");
    removed.push(`domain ${name}`);
  }
  const files = await host.run(["sh", "-c", 'cd /var/lib/libvirt/qemu/nvram && ls; cd /var/log/libvirt/qemu && ls']);
  // swtpm's logs (one per domain name) outlive their domains: the suite's start empty.
  const swtpmLogs = await host.run(["sh", "-c", "cd /var/log/swtpm/libvirt/qemu 2>/dev/null && ls"]);
  for (const f of swtpmLogs.stdout.split("\n").filter((x) => x.endsWith("-swtpm.log") && isSuiteName(x.replace(/-swtpm\.log$/, "")))) {
    await host.run(["rm", "-f", "--", `/var/log/swtpm/libvirt/qemu/${f}`]);
  }
  // NVRAM files with the owner marks beside them, serial and QEMU logs.
  const suffix = /(_VARS\.fd|_VARS\.fd\.pulumi-ovmf-owner|-serial\.log|\.log)$/;
  const leftovers = files.stdout.split("\n").filter((f) => suffix.test(f) && isSuiteName(f.replace(suffix, "")));
  for (const f of leftovers) {
    const dir = /_VARS\.fd/.test(f) ? "/var/lib/libvirt/qemu/nvram" : "/var/log/libvirt/qemu";
    await host.run(["rm", "-f", "--", `${dir}/${f}`]);
    if (f.endsWith("_VARS.fd")) removed.push(`NVRAM ${f}`);
  }
  removed.push(...(await sweepTpmStates(host)));
  return removed;
}

// The name in each TPM state's EK certificate subject (`CN=<vmName>:<uuid>`), read as text.
const TPM_NAMES = `cd /var/lib/libvirt/swtpm 2>/dev/null || exit 0
for d in *-*-*-*-*; do
  [ -f "$d/tpm2/tpm2-00.permall" ] || continue
  n=$(grep -aoE "[A-Za-z0-9_.+-]+:$d" "$d/tpm2/tpm2-00.permall" | head -n 1 | cut -d: -f1)
  echo "$d $n"
done`;

/** TPM states the suite made (a suite name in the EK certificate) whose domain is gone. */
async function sweepTpmStates(host: Host): Promise<string[]> {
  const removed: string[] = [];
  const lines = (await host.run(["sh", "-c", TPM_NAMES])).stdout.split("\n").filter((l) => l.includes(" "));
  for (const [uuid = "", name = ""] of lines.map((l) => l.split(" "))) {
    if (!isSuiteName(name) || !/^[0-9a-f-]{36}$/.test(uuid) || (await virsh.domainByUuid(host, uuid)) !== undefined) continue;
    await host.run(["rm", "-rf", "--", `/var/lib/libvirt/swtpm/${uuid}`]);
    removed.push(`TPM state ${uuid} (${name})`);
  }
  return removed;
}

/** The suite's stacks in the projects' local file backends: after an interrupted run they name what was swept. */
function sweepStacks(): string[] {
  const projects = ["examples", "test/e2e/projects"].flatMap((d) => readdirSync(path.join(REPO_ROOT, d), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(REPO_ROOT, d, e.name)));
  const removed: string[] = [];
  for (const project of projects) {
    // The stacks' config files (`pulumi config set` writes Pulumi.<stack>.yaml beside Pulumi.yaml).
    for (const f of readdirSync(project).filter((e) => /^Pulumi\.e2e-.*\.yaml$/.test(e))) rmSync(path.join(project, f), { force: true });
    const root = path.join(project, ".pulumi-state/.pulumi");
    for (const kind of ["stacks", "history", "backups", "locks/organization"]) {
      const dir = path.join(root, kind);
      if (!existsSync(dir)) continue;
      for (const proj of readdirSync(dir)) {
        for (const entry of readdirSync(path.join(dir, proj)).filter((e) => SUITE_STACK.test(e))) {
          rmSync(path.join(dir, proj, entry), { recursive: true, force: true });
          if (kind === "stacks" && entry.endsWith(".json")) removed.push(`stack ${path.relative(REPO_ROOT, project)}:${entry.replace(/\.json$/, "")}`);
        }
      }
    }
  }
  return removed;
}

/**
 * vitest global setup: before a run, removes what an earlier, interrupted run of this suite left on
 * the test hosts and in the test stacks, so that no test meets "already exists" or an old serial log.
 */
export default async function setup(): Promise<void> {
  if (!existsSync(testHostFile())) return; // unit tests alone need no host
  const removed = sweepStacks();
  try {
    for (const h of loadTestHost().hosts) removed.push(...(await sweepHost(new Host(hostConnection(h.name)))).map((r) => `${r} on ${h.name}`));
  } finally {
    closeAll();
  }
  if (removed.length > 0) console.log(`swept what an earlier run left: ${removed.join(", ")}`);
}
