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
  /** True when retrying cannot help (authentication failed, unusable key). */
  readonly permanent: boolean;
  constructor(
    readonly target: string,
    /** What went wrong, without the target prefix. */
    readonly detail: string,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(`ssh ${target}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.permanent = options?.permanent ?? false;
  }
}

/**
 * The host did not answer within the connection's time limit (`connection.timeoutSeconds`): the
 * limit is spent, so the dial is not tried again.
 */
export class SshTimeoutError extends SshConnectionError {
  override name = "SshTimeoutError";
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

/** The SSH user may not run privileged commands: sudo wants a password or denies the user. */
export class SudoError extends OvmfError {
  override name = "SudoError";
  constructor(
    readonly target: string,
    detail: string,
  ) {
    super(
      `sudo on ${target} ${detail}: the provider runs privileged commands with \`sudo -n\` and cannot type a password. ` +
        `Allow the user passwordless sudo (e.g. "USER ALL=(root) NOPASSWD: ALL" in /etc/sudoers.d/), or connect as root.`,
    );
  }
}
