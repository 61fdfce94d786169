import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { hostConnection, loadTestHost, REPO_ROOT } from "../support/testhost.js";

// The command a user runs (`npx pulumi-ovmf check-host`), as built: package.json's bin.
const CLI = path.join(REPO_ROOT, "dist/provider/cli/main.js");
const th = loadTestHost();
const a = th.hosts.find((h) => h.name === "a")!;
afterAll(() => closeAll());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function checkHost(target: string, args: string[]): Promise<Run> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "check-host", target, "--key", a.privateKeyPath, ...args], { timeout: 180_000, env: { ...process.env, SSH_AUTH_SOCK: "" } }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr }),
    );
  });
}

/** The report line of one check: status, name, detail. */
const line = (out: string, name: string) => out.split("\n").find((l) => new RegExp(`^\\S+ +${name} `).test(l)) ?? `(no ${name} line in:\n${out})`;

describe("pulumi-ovmf check-host against test host a", () => {
  it("exits 0 and reports libvirt, QEMU, the Secure Boot firmware and swtpm ok; KVM as domainType auto decides", async () => {
    const r = await checkHost(`${a.user}@${a.host}:${a.port}`, ["--host-key", a.hostKey]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const live = await virsh.version(new Host(hostConnection("a")));
    expect(r.stdout.split("\n")[0]).toBe(`${a.user}@${a.host}:${a.port}: Debian GNU/Linux 12 (bookworm)`);
    expect(line(r.stdout, "libvirt")).toMatch(new RegExp(`^ok +libvirt +libvirt ${live.libvirt.replace(/\./g, "\\.")}; libvirtd answers`));
    expect(line(r.stdout, "qemu")).toMatch(new RegExp(`^ok +qemu +QEMU ${live.hypervisorVersion.replace(/\./g, "\\.")}; q35 is pc-q35-`));
    expect(line(r.stdout, "ovmf")).toMatch(/^ok +ovmf +Secure Boot firmware with enrolled keys: \/usr\/share\/OVMF\/OVMF_CODE_4M\.ms\.fd \+ \/usr\/share\/OVMF\/OVMF_VARS_4M\.ms\.fd/);
    expect(line(r.stdout, "swtpm")).toMatch(/^ok +swtpm +swtpm \d+\.\d+\.\d+, swtpm_setup \d+\.\d+\.\d+, swtpm_ioctl/);
    expect(line(r.stdout, "streamlocal-forwarding")).toMatch(/^ok /);
    // The test host's KVM cannot run OVMF (testhost.json's domainType says what the provider's probe found).
    // (Or, on a machine without KVM at all, that there is no /dev/kvm.)
    expect(line(r.stdout, "kvm")).toMatch(th.domainType === "kvm" ? /^ok +kvm +KVM runs OVMF with SMM/ : /^warning +kvm +(\/dev\/kvm present, but KVM cannot run OVMF with SMM here: |no \/dev\/kvm )/);
    expect(r.stdout).toMatch(/\nReady: nothing blocking is missing( \(\d+ warnings?\))?\.\n$/);
    // The streamlocal check's socket is gone from the host.
    expect((await new Host(hostConnection("a")).run(["sh", "-c", "ls /tmp/pulumi-ovmf-check-*.sock 2>/dev/null | wc -l"])).stdout.trim()).toBe("0");
  });

  it("test host b (another libvirt host in its own mount namespace) is ready too", async () => {
    const b = th.hosts.find((h) => h.name === "b");
    expect(b, "npm test starts host b").toBeDefined();
    if (b === undefined) return;
    const r = await checkHost(`${b.user}@${b.host}:${b.port}`, ["--host-key", b.hostKey, "--no-kvm-probe"]);
    expect(r.code, r.stdout).toBe(0);
    for (const name of ["libvirt", "qemu", "ovmf", "swtpm", "qemu-img"]) expect(line(r.stdout, name)).toMatch(/^ok /);
  });

  it("--json: the same report as HostInfo's readiness output", async () => {
    const r = await checkHost(`${a.host}:${a.port}`, ["--host-key", a.hostKey, "--no-kvm-probe", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { target: string; distribution: string; readiness: { ok: boolean; checks: Array<{ name: string; status: string }> } };
    expect(report.target).toBe(`root@${a.host}:${a.port}`);
    expect(report.readiness.ok).toBe(true);
    expect(report.readiness.checks.find((c) => c.name === "kvm")).toMatchObject({ status: "ok", detail: "/dev/kvm present; not probed (--no-kvm-probe)" });
  });

  it("a wrong host key: no report, exit 1, the mismatch named", async () => {
    const r = await checkHost(`${a.host}:${a.port}`, ["--host-key", th.jumpHost.hostKey, "--no-kvm-probe"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/cannot check root@127\.0\.0\.1:\d+: host key verification failed/);
  });

  it("a usage error exits 2", async () => {
    const r = await checkHost(`${a.host}:${a.port}`, ["--no-such-option"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--no-such-option'/);
  });
});

/**
 * Host a's own system seen through a second sshd that runs in a private mount namespace where
 * swtpm_setup is /dev/null (so it cannot run), and that refuses streamlocal forwarding.
 */
describe("a host without swtpm_setup and without streamlocal forwarding (a private sshd)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ovmf-check-host-"));
  let sshd: ChildProcess | undefined;
  let port = 0;
  let hostKey = "";

  beforeAll(async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    hostKey = execFileSync("ssh-keygen", ["-lf", path.join(dir, "host_key.pub")], { encoding: "utf8" }).split(" ")[1]!;
    port = await freePort();
    const config = path.join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${path.join(dir, "host_key")}`, `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(path.dirname(a.privateKeyPath), "authorized_keys")}`, "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "SetEnv SHLVL=1",
        "AllowStreamLocalForwarding no", "",
      ].join("\n"),
    );
    // unshare execs sh, which execs sshd: the child is sshd itself, and stopping it ends the namespace.
    sshd = spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind /dev/null /usr/bin/swtpm_setup && exec /usr/sbin/sshd -D -E "$1" -f "$2"', "sh", path.join(dir, "sshd.log"), config], { stdio: "ignore" });
    await waitForPort(port, 10_000);
  });

  afterAll(async () => {
    if (sshd !== undefined && sshd.exitCode === null) {
      const exited = new Promise((resolve) => sshd!.once("exit", resolve));
      sshd.kill("SIGTERM");
      const timer = setTimeout(() => sshd!.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("exits 1 and names swtpm as missing, with its fix; streamlocal forwarding as a warning, with its fix", async () => {
    const r = await checkHost(`root@127.0.0.1:${port}`, ["--host-key", hostKey, "--no-kvm-probe"]);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "swtpm")).toMatch(/^missing +swtpm +swtpm_setup does not run \(.*swtpm_setup: Permission denied\): libvirt runs swtpm/);
    expect(r.stdout).toMatch(/\nmissing +swtpm .*\n +fix: apt-get install --reinstall swtpm swtpm-tools\n/);
    expect(line(r.stdout, "streamlocal-forwarding")).toMatch(/^warning +streamlocal-forwarding +sshd refuses streamlocal forwarding \(.+\): live moves/);
    expect(r.stdout).toMatch(/\nwarning +streamlocal-forwarding .*\n +fix: set AllowStreamLocalForwarding yes \(and no DisableForwarding yes\) in \/etc\/ssh\/sshd_config, then systemctl reload ssh\n/);
    // Everything else is the same host a, and reads as such.
    for (const ok of ["libvirt", "qemu", "ovmf", "qemu-img", "virt-ssh-helper"]) expect(line(r.stdout, ok)).toMatch(/^ok /);
    expect(r.stdout).toMatch(/\nNot ready: missing swtpm \(1 warning\)\.\n$/);
  });

  it("--live-moves: streamlocal forwarding is missing too", async () => {
    const r = await checkHost(`root@127.0.0.1:${port}`, ["--host-key", hostKey, "--no-kvm-probe", "--live-moves"]);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "streamlocal-forwarding")).toMatch(/^missing /);
    expect(r.stdout).toMatch(/\nNot ready: missing swtpm, streamlocal-forwarding\.\n$/);
  });

  it("host a itself still has swtpm_setup (the mount was private)", () => {
    expect(readFileSync("/usr/bin/swtpm_setup").length).toBeGreaterThan(0);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the private sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
