import { randomBytes } from "node:crypto";
import { RemoteCommandError, SudoError } from "../errors.js";
import { Host } from "../host/host.js";
import { domainTypeVerdict } from "../libvirt/kvm-probe.js";
import { withDefaults, type ConnectionSpec } from "../ssh/connection.js";
import { getSession } from "../ssh/pool.js";
import { parseProbe, probeArgv, type HostFacts } from "./probe.js";
import { readinessReport, type OverSsh, type Readiness, type ReportOptions } from "./readiness.js";

export interface CheckHostOptions extends ReportOptions {
  /** Boot a throwaway domain to see whether KVM runs OVMF with SMM (default true; a few seconds the first time). */
  kvmProbe?: boolean;
}

/** A host's readiness: the report, the distribution it was made for, and the facts behind it. */
export interface HostReadiness {
  /** /etc/os-release's PRETTY_NAME, e.g. "Debian GNU/Linux 12 (bookworm)". */
  distribution: string;
  readiness: Readiness;
  facts: HostFacts;
}

/** How long the probe script may run: virsh and QEMU answer in well under a second on a healthy host. */
const PROBE_TIMEOUT_MS = 120_000;

/**
 * Checks what a host has for pulumi-ovmf, over the provider's own SSH connection (so the host key is
 * verified as in `pulumi up`): streamlocal forwarding as a live move asks sshd for it, the read-only
 * probe script (through sudo when the connection asks for it), and domainType "auto"'s KVM verdict
 * for the host's Secure Boot firmware. Throws only when the host cannot be reached.
 */
export async function checkHost(spec: ConnectionSpec, options: CheckHostOptions = {}): Promise<HostReadiness> {
  let host = new Host(spec);
  const socket = `/tmp/pulumi-ovmf-check-${randomBytes(8).toString("hex")}.sock`;
  const streamlocal = await tryListen(host, socket);

  let sudo: OverSsh["sudo"];
  let out: string;
  try {
    // The probe also removes the socket sshd leaves behind.
    out = (await host.check(probeArgv(socket), "the host readiness probe", { timeoutMs: PROBE_TIMEOUT_MS })).stdout;
    if (spec.sudo === true) sudo = { ok: true };
  } catch (err) {
    const refused = sudoRefusal(spec, err);
    if (refused === undefined) throw err;
    // Without sudo the rest still tells what the host has (libvirt may then refuse the login user).
    host = new Host({ ...spec, sudo: false });
    sudo = { ok: false, loginUser: withDefaults(spec).user, ...refused };
    out = (await host.check(probeArgv(socket), "the host readiness probe", { timeoutMs: PROBE_TIMEOUT_MS })).stdout;
  }
  const facts = parseProbe(out);
  const kvm = await kvmVerdict(host, facts, options);
  return { distribution: facts.os.prettyName, readiness: readinessReport(facts, { streamlocal, kvm, ...(sudo === undefined ? {} : { sudo }) }, options), facts };
}

/** Why sudo did not run the probe, when that is why it failed. */
function sudoRefusal(spec: ConnectionSpec, err: unknown): { message: string; installed: boolean } | undefined {
  if (spec.sudo !== true) return undefined;
  if (err instanceof SudoError) {
    const why = /^sudo on \S+ (.+?): /.exec(err.message)?.[1] ?? err.message;
    return { message: `sudo -n ${why}`, installed: true };
  }
  if (err instanceof RemoteCommandError && err.code === 127 && /sudo: (command )?not found/.test(err.stderr)) {
    return { message: "sudo is not installed", installed: false };
  }
  return undefined;
}

/** Whether sshd listens on a UNIX socket for this connection, as it must on the old host of a live move. */
async function tryListen(host: Host, socket: string): Promise<OverSsh["streamlocal"]> {
  // Connect first: a host that cannot be reached fails the check, it does not refuse forwarding.
  await getSession(host.spec);
  try {
    const stop = await host.listenUnix(socket, (stream) => stream.destroy());
    await stop();
    return { ok: true };
  } catch (err) {
    // The SSH server's own words, without the provider's explanation around them.
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, message: /: ([^:]*)$/.exec(message)?.[1]?.trim() ?? message };
  }
}

async function kvmVerdict(host: Host, facts: HostFacts, options: CheckHostOptions): Promise<OverSsh["kvm"]> {
  if (options.kvmProbe === false) return { probed: false, why: "--no-kvm-probe" };
  if (facts.kvmDevice === undefined) return { probed: false, why: "no /dev/kvm" };
  if (!facts.libvirt.ok) return { probed: false, why: "libvirt did not answer" };
  if (!facts.firmware.ok) return { probed: false, why: "no Secure Boot firmware to boot" };
  const fw = facts.firmware.found;
  // The guest a default SecureBootVm asks for, so this verdict is the one its domain will use.
  const verdict = await domainTypeVerdict(host, { codePath: fw.codePath, varsTemplatePath: fw.varsTemplatePath, secureBoot: true, needsSmm: true, cpuMode: "host-passthrough" });
  return { probed: true, type: verdict.type, ...(verdict.why === undefined ? {} : { why: verdict.why }) };
}
