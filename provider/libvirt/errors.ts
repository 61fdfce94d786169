import { OvmfError } from "../errors.js";
import { describeState, type StateWithReason } from "./domain-state.js";
import { notRunningFix } from "./qemu-log.js";
import { deniedFile, fileAccessHint, withoutQemuArguments, type DeniedFile } from "./file-access.js";

/** What a failed virsh call was doing, for the message. */
export interface VirshFailure {
  /** The libvirt host, `user@host:port`. */
  target: string;
  /** The virsh subcommand, e.g. "define". */
  operation: string;
  /** The domain, when the operation is about one. */
  domain?: string;
  code: number | null;
  stderr: string;
}

/** A virsh command failed; subclasses say why. Messages name host, domain, operation and a fix. */
export class VirshError extends OvmfError {
  override name = "VirshError";
  constructor(
    readonly failure: VirshFailure,
    hint: string,
  ) {
    const on = failure.domain === undefined ? failure.target : `domain "${failure.domain}" on ${failure.target}`;
    const detail = failure.stderr.trim().replace(/^error:\s*/gm, "").replace(/\.?\s*\n\s*/g, "; ").replace(/\.$/, "") || `exit ${failure.code ?? "signal"}`;
    super(`virsh ${failure.operation} of ${on} failed: ${detail}${hint === "" ? "" : `. ${hint}`}`);
  }
}

export class DomainNotFoundError extends VirshError {
  override name = "DomainNotFoundError";
}
export class DomainExistsError extends VirshError {
  override name = "DomainExistsError";
}
export class InvalidDomainXmlError extends VirshError {
  override name = "InvalidDomainXmlError";
}
export class LibvirtPermissionError extends VirshError {
  override name = "LibvirtPermissionError";
}
export class LibvirtConnectionError extends VirshError {
  override name = "LibvirtConnectionError";
}
export class KvmUnavailableError extends VirshError {
  override name = "KvmUnavailableError";
}
/**
 * QEMU, which runs as its own user, may not open a file the domain uses (disk, CD-ROM, loader,
 * NVRAM): the file's owner, mode, directories or AppArmor/SELinux, not SSH or sudo.
 */
export class QemuFileAccessError extends VirshError {
  override name = "QemuFileAccessError";
  constructor(
    failure: VirshFailure,
    readonly denied: DeniedFile,
    /** `namei -l` of the file on the host, one entry per component, when it could be read. */
    namei?: readonly string[],
  ) {
    super({ ...failure, stderr: withoutQemuArguments(failure.stderr) }, fileAccessHint(denied, namei));
  }
}

/** The domain's emulated TPM could not be set up (swtpm); the stderr carries the reason from its log. */
export class TpmSetupError extends VirshError {
  override name = "TpmSetupError";
}

/** What virsh says when there is no such domain (also matched by the remote scripts' shell). */
export const DOMAIN_NOT_FOUND = ["Domain not found", "failed to get domain", "no domain with matching"] as const;

const RULES: Array<[RegExp, new (f: VirshFailure, hint: string) => VirshError, string]> = [
  [new RegExp(DOMAIN_NOT_FOUND.join("|"), "i"), DomainNotFoundError, "It may have been removed outside Pulumi: run `pulumi refresh`"],
  [/already exists|is already defined|already in use/i, DomainExistsError, "Choose another name, remove the existing domain, or set adopt: true to take it over"],
  [/\(domain_definition\):\d+:|XML error|XML document|unsupported configuration|invalid argument|Unable to parse|schema/i, InvalidDomainXmlError, "libvirt rejected the domain definition; check the inputs named in the message"],
  [/Could not access KVM kernel module|failed to initialize kvm|KVM is not (available|supported)|kvm.*not supported by/i, KvmUnavailableError, "QEMU cannot use /dev/kvm on this host: use domainType \"qemu\" (software emulation) or give the qemu user access to /dev/kvm (group kvm, mode 0660)"],
  [/Permission denied|access denied|authentication (failed|unavailable)|not authorized|Operation not permitted/i, LibvirtPermissionError, "The SSH user cannot manage libvirt: connect as root or set connection.sudo: true for a user with passwordless sudo"],
  [/failed to connect to the hypervisor|Failed to connect socket|Cannot recv data|End of file while reading data|libvirtd.*not running/i, LibvirtConnectionError, "Is libvirtd running on the host (systemctl status libvirtd)?"],
];

/** Maps a failed virsh call to the most specific error its stderr allows. Pure. */
export function classifyVirshError(failure: VirshFailure): VirshError {
  // First: its "Permission denied" is QEMU's about a file, which the permission rule would blame on SSH.
  const denied = deniedFile(failure.stderr);
  if (denied !== undefined) return new QemuFileAccessError(failure, denied);
  for (const [pattern, ErrorClass, hint] of RULES) {
    if (pattern.test(failure.stderr)) return new ErrorClass(failure, hint);
  }
  return new VirshError(failure, "");
}

/** What a domain did in the moments after it was started, when it did not keep running. */
export interface NotRunning {
  /** The libvirt host, `user@host:port`. */
  target: string;
  domain: string;
  /** `virsh domstate --reason` once it stopped running. */
  observed: StateWithReason;
  /** Its QEMU log on the host. */
  logPath: string;
  /** What QEMU printed about it (see qemuFailureLines). */
  qemuSays: string[];
}

/**
 * A domain was started but did not keep running: it paused (e.g. nested KVM that cannot emulate the
 * firmware), crashed, or went off. The message names host and domain, quotes libvirt's state and
 * QEMU's own lines, gives the fix, and says what the operation left behind (`outcome`).
 */
export class DomainNotRunningError extends OvmfError {
  override name = "DomainNotRunningError";
  constructor(
    readonly detail: NotRunning,
    readonly outcome = "It was powered off.",
  ) {
    const said = detail.qemuSays.length > 0 ? `, and its QEMU log (${detail.logPath}) says: ${detail.qemuSays.join("; ").replace(/\.$/, "")}` : "";
    super(
      `domain "${detail.domain}" on ${detail.target} did not keep running after it started: virsh domstate --reason says "${describeState(detail.observed)}"${said}. ` +
        `${notRunningFix(detail.observed, detail.qemuSays, detail.logPath)}. ${outcome}`,
    );
  }

  /** The same failure, saying what the operation left behind. */
  withOutcome(outcome: string): DomainNotRunningError {
    return new DomainNotRunningError(this.detail, outcome);
  }
}
