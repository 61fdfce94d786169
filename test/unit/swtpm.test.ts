import { describe, expect, it } from "vitest";
import { swtpmFailureReason, swtpmFix, swtpmLogPath } from "../../provider/libvirt/swtpm.js";

// What libvirt 9 and swtpm 0.7 print when the local CA directory belongs to another user.
const STDERR =
  "error: Failed to start domain 'vm1'\nerror: internal error: Could not run '/usr/bin/swtpm_setup'. exitstatus: 1; " +
  "Check error log '/var/log/swtpm/libvirt/qemu/vm1-swtpm.log' for details.\n";
const LOG = [
  "Starting vTPM manufacturing as root:root @ Tue 24 Nov 2026 03:11:04 PM UTC",
  "Successfully created RSA 2048 EK with handle 0x81010001.",
  "Successfully created EK certificate locally.",
  "Ending vTPM manufacturing @ Tue 24 Nov 2026 03:11:05 PM UTC",
  "Starting vTPM manufacturing as tss:tss @ Tue 24 Nov 2026 04:25:23 PM UTC",
  "Successfully created RSA 2048 EK with handle 0x81010001.",
  "  Invoking /usr/bin/swtpm_localca --type ek --ek b716 --dir /tmp/swtpm_setup.certs.5QW8Y3 --logfile /var/log/swtpm/libvirt/qemu/vm1-swtpm.log",
  "Need read/write rights on /var/lib/swtpm-localca/.lock.swtpm-localca for user tss.",
  "swtpm_localca exit with status 1: ",
  "An error occurred. Authoring the TPM state failed.",
  "Error getting next filename: No child processes",
  "Ending vTPM manufacturing @ Tue 24 Nov 2026 04:25:23 PM UTC",
  "",
].join("\n");

describe("swtpm failures", () => {
  it("finds the log virsh points to, and only under /var/log/swtpm", () => {
    expect(swtpmLogPath(STDERR)).toBe("/var/log/swtpm/libvirt/qemu/vm1-swtpm.log");
    expect(swtpmLogPath("Check error log '/etc/shadow' for details")).toBeUndefined();
    expect(swtpmLogPath("Check error log '/var/log/swtpm/../../etc/shadow.log' for details")).toBeUndefined();
    expect(swtpmLogPath("error: Domain not found")).toBeUndefined();
  });

  it("picks the reason of the last run out of the log, without the generic lines", () => {
    expect(swtpmFailureReason(LOG)).toBe("Need read/write rights on /var/lib/swtpm-localca/.lock.swtpm-localca for user tss.");
    expect(swtpmFailureReason(LOG.split("Starting vTPM manufacturing as tss")[0] ?? "")).toBeUndefined();
  });

  it("turns a rights problem into the command that fixes it", () => {
    const fix = swtpmFix(swtpmFailureReason(LOG), "/var/log/swtpm/libvirt/qemu/vm1-swtpm.log");
    expect(fix).toBe("libvirt runs swtpm as user tss, which cannot write /var/lib/swtpm-localca: on the host run `chown -R tss /var/lib/swtpm-localca`, or go without a TPM: leave out tpm and its TpmState (SecureBootVm: tpm: false)");
    expect(swtpmFix(undefined, "/var/log/swtpm/x.log")).toMatch(/see \/var\/log\/swtpm\/x\.log on the host, or go without a TPM: leave out tpm and its TpmState \(SecureBootVm: tpm: false\)$/);
  });
});
