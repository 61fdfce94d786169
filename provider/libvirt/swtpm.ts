/**
 * When libvirt cannot start a domain's emulated TPM, virsh only says "Could not run swtpm_setup ...
 * Check error log '<path>'". The reason is in that log on the host; these pure helpers find the log,
 * pick the reason out of it and turn it into a fix.
 */

const LOG_PATH = /Check error log '(\/var\/log\/swtpm\/[\w./@+-]+\.log)'/;

/** The swtpm log a failed `virsh start` points to, if it points to one. */
export function swtpmLogPath(stderr: string): string | undefined {
  const path = LOG_PATH.exec(stderr)?.[1];
  return path === undefined || path.includes("..") ? undefined : path;
}

const START = /^Starting vTPM manufacturing/;
const REASON = /need|denied|cannot|could not|not permitted|no such|failed|error/i;
/** Lines swtpm_setup prints after every failure, whatever the reason: not a reason themselves. */
const GENERIC = /^(An error occurred\. Authoring the TPM state failed\.|Error getting next filename|Ending vTPM manufacturing)/;

/** The reason the last TPM set-up in `log` failed, or undefined when the log names none. */
export function swtpmFailureReason(log: string): string | undefined {
  const lines = log.split("\n").map((l) => l.trim());
  const lastStart = lines.map((l) => START.test(l)).lastIndexOf(true);
  const run = lines.slice(Math.max(lastStart, 0));
  const reasons = run.filter((l) => l !== "" && REASON.test(l) && !GENERIC.test(l) && !/^Invoking /.test(l));
  return reasons.length === 0 ? undefined : reasons.slice(0, 3).join(" ");
}

// Q35Domain's tpm is a TpmState (there is no false to set); SecureBootVm's is a boolean.
const WITHOUT_TPM = "go without a TPM: leave out tpm and its TpmState (SecureBootVm: tpm: false)";

/** What to do about a TPM set-up failure, given its reason. */
export function swtpmFix(reason: string | undefined, logPath: string): string {
  const rights = reason === undefined ? null : /Need read\/write rights on (\/\S+?) for user (\S+?)\.?$/m.exec(reason);
  if (rights?.[1] !== undefined && rights[2] !== undefined) {
    const dir = rights[1].replace(/\/[^/]+$/, "");
    return `libvirt runs swtpm as user ${rights[2]}, which cannot write ${dir}: on the host run \`chown -R ${rights[2]} ${dir}\`, or ${WITHOUT_TPM}`;
  }
  return `swtpm (the TPM 2.0 emulator) could not create the TPM state; see ${logPath} on the host, or ${WITHOUT_TPM}`;
}
