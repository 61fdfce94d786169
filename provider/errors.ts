/**
 * Errors raised by the provider. Each names the operation and its target and says what to do;
 * none ever carries a key, passphrase or password.
 */
export class OvmfError extends Error {
  override name = "OvmfError";
}

/** The host presented a key that does not match the pinned fingerprint or known_hosts. */
export class HostKeyMismatchError extends OvmfError {
  override name = "HostKeyMismatchError";
  constructor(
    readonly target: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `host key verification failed for ${target}: expected ${expected}, but the host presented ${actual}. ` +
        `If the host was reinstalled, check the new key out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host) and update connection.hostKey.`,
    );
  }
}

/** Could not open (or lost) the SSH connection. */
export class SshConnectionError extends OvmfError {
  override name = "SshConnectionError";
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ssh ${target}: ${message}`, options);
  }
}

/** A remote command exited non-zero (or by a signal). */
export class RemoteCommandError extends OvmfError {
  override name = "RemoteCommandError";
  constructor(
    readonly target: string,
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} on ${target} failed (exit ${code ?? "signal"}): ${stderr.trim() || "(no output)"}`);
  }
}
