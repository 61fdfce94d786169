import * as pulumi from "@pulumi/pulumi";

/**
 * How the provider reaches a libvirt host over SSH. Host key verification is always on: give
 * `hostKey` or `knownHosts`.
 */
export interface ConnectionArgs {
  /** Host name or IP address of the libvirt host. */
  host: pulumi.Input<string>;
  /** SSH port. Default: 22. */
  port?: pulumi.Input<number>;
  /** User to log in as. Default: `root`. A non-root user needs `sudo: true` for libvirt and NVRAM files. */
  user?: pulumi.Input<string>;
  /** Private key text (OpenSSH or PEM). Stored as a Pulumi secret. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of an encrypted `privateKey`. Stored as a Pulumi secret. */
  passphrase?: pulumi.Input<string>;
  /** Password authentication. Stored as a Pulumi secret. */
  password?: pulumi.Input<string>;
  /** Path of an SSH agent socket. Default: the provider process's `SSH_AUTH_SOCK`. */
  agent?: pulumi.Input<string>;
  /**
   * The host key pin: the `SHA256:...` fingerprint that `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`
   * prints on the host, or the public key line itself. A host presenting another key is refused.
   */
  hostKey?: pulumi.Input<string>;
  /** The text of a known_hosts file (hashed entries and `[host]:port` patterns work), instead of `hostKey`. */
  knownHosts?: pulumi.Input<string>;
  /** A bastion to reach `host` through (SSH direct-tcpip), verified the same way. */
  jumpHost?: pulumi.Input<ConnectionArgs>;
  /** Run privileged commands through `sudo -n` (passwordless sudo). Default: false. */
  sudo?: pulumi.Input<boolean>;
  /**
   * Seconds an operation waits for the host to answer (TCP connect, SSH handshake and login,
   * retries of a refused connection included) before it fails with one error naming the host.
   * From 1 to 3600. Default: 30.
   */
  timeoutSeconds?: pulumi.Input<number>;
}

const SECRET_FIELDS = ["privateKey", "passphrase", "password"] as const;
/** Every field of a connection, for a connection given as one Output (its fields are known only then). */
const FIELDS = ["host", "port", "user", "privateKey", "passphrase", "password", "agent", "hostKey", "knownHosts", "jumpHost", "sudo", "timeoutSeconds"] as const satisfies ReadonlyArray<keyof ConnectionArgs>;

/**
 * Marks the credentials of a connection (and of its jump host) as Pulumi secrets, leaving host,
 * port and user readable in previews and diffs. The connection may be one Output (another
 * resource's `connection`, or a whole `pulumi.secret`): it is split into one Output per field, so
 * that the credentials are secret there too (a whole secret stays secret in every field).
 * @internal
 */
export function secretConnection(args: pulumi.Input<ConnectionArgs>): pulumi.Input<ConnectionArgs> {
  if (pulumi.Output.isInstance(args) || args instanceof Promise) {
    const all = pulumi.output(args);
    const wholeSecret = pulumi.isSecret(all);
    // Fields derive from the unsecreted whole and are made secret one by one: a field derived from
    // a secret would be secret even when absent, and a secret absent field reaches the provider as
    // null instead of missing (`port: null`), where it fails validation.
    const plain = pulumi.unsecret(all);
    const out: Record<string, pulumi.Output<unknown>> = {};
    for (const field of FIELDS) {
      out[field] = plain.apply(async (c): Promise<pulumi.Input<unknown>> => {
        const value = c[field];
        if (value === undefined) return undefined;
        const secret = (await wholeSecret) || (SECRET_FIELDS as readonly string[]).includes(field);
        if (field === "jumpHost") {
          const jump = pulumi.output(secretConnection(value as ConnectionArgs));
          return secret ? pulumi.secret(jump) : jump;
        }
        return secret ? pulumi.secret(value) : value;
      });
    }
    return out as unknown as ConnectionArgs;
  }
  const out: ConnectionArgs = { ...args };
  for (const field of SECRET_FIELDS) {
    const value = args[field];
    if (value !== undefined) out[field] = pulumi.secret(value);
  }
  if (args.jumpHost !== undefined) out.jumpHost = secretConnection(args.jumpHost);
  return out;
}

/**
 * A connection from stack config: `host` (required), `port`, `user`, `hostKey` or `knownHosts`,
 * `privateKey`, `passphrase`, `password` (read as secrets), `agent`, `sudo` and `timeoutSeconds`. Set them with
 * `pulumi config set host kvm1.example.com`, `pulumi config set --secret privateKey < key`, ...
 * Validation (a missing host key pin, a bad port) happens at preview like any other input.
 */
export function connectionFromConfig(config: pulumi.Config = new pulumi.Config()): ConnectionArgs {
  const optional = <K extends keyof ConnectionArgs>(key: K, value: ConnectionArgs[K] | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    host: config.require("host"),
    ...optional("port", config.getNumber("port")),
    ...optional("user", config.get("user")),
    ...optional("hostKey", config.get("hostKey")),
    ...optional("knownHosts", config.get("knownHosts")),
    ...optional("privateKey", config.getSecret("privateKey")),
    ...optional("passphrase", config.getSecret("passphrase")),
    ...optional("password", config.getSecret("password")),
    ...optional("agent", config.get("agent")),
    ...optional("sudo", config.getBoolean("sudo")),
    ...optional("timeoutSeconds", config.getNumber("timeoutSeconds")),
  };
}
