import * as pulumi from "@pulumi/pulumi";
import { secretConnection, type ConnectionArgs } from "./connection.js";
import hostInfoProvider from "../provider/shims/host-info.js";
import type { Check, CheckStatus, Readiness } from "../provider/host-info/readiness.js";

export type { Check as ReadinessCheck, CheckStatus as ReadinessStatus, Readiness };

/** Inputs of {@link HostInfo}. */
export interface HostInfoArgs {
  /** The libvirt host to ask. */
  connection: pulumi.Input<ConnectionArgs>;
}

/**
 * Reads what a libvirt host runs (libvirt and hypervisor versions) over SSH, and what it has and
 * lacks for pulumi-ovmf (`readiness`, the report `npx pulumi-ovmf check-host` prints). Changes
 * nothing on the host (its KVM check boots a throwaway domain once per host boot, as domainType
 * "auto" does, and keeps the verdict); `pulumi refresh` reads it again. Handy to check a connection
 * before creating VMs on it.
 */
export class HostInfo extends pulumi.dynamic.Resource {
  /** The libvirt daemon's version, e.g. `9.0.0`. */
  declare public readonly libvirtVersion: pulumi.Output<string>;
  /** The hypervisor driver, e.g. `QEMU`. */
  declare public readonly hypervisor: pulumi.Output<string>;
  /** The hypervisor's version, e.g. `7.2.22`. */
  declare public readonly hypervisorVersion: pulumi.Output<string>;
  /** The host's distribution, /etc/os-release's PRETTY_NAME, e.g. `Debian GNU/Linux 12 (bookworm)`. */
  declare public readonly distribution: pulumi.Output<string>;
  /**
   * One check per piece pulumi-ovmf needs (libvirt, QEMU, OVMF with Secure Boot, swtpm, KVM, ...):
   * `ok`, `missing` (`pulumi up` would fail) or `warning`, with a fix for the host's distribution;
   * `ok` is true when nothing is missing.
   */
  declare public readonly readiness: pulumi.Output<Readiness>;

  constructor(name: string, args: HostInfoArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      connection: secretConnection(args.connection),
      libvirtVersion: undefined,
      hypervisor: undefined,
      hypervisorVersion: undefined,
      distribution: undefined,
      readiness: undefined,
    };
    super(hostInfoProvider, name, props, opts, "ovmf", "HostInfo");
  }
}
