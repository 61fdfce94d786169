import * as pulumi from "@pulumi/pulumi";
import { secretConnection, type ConnectionArgs } from "./connection.js";
import hostInfoProvider from "../provider/shims/host-info.js";

/** Inputs of {@link HostInfo}. */
export interface HostInfoArgs {
  /** The libvirt host to ask. */
  connection: ConnectionArgs;
}

/**
 * Reads what a libvirt host runs (libvirt and hypervisor versions) over SSH. Changes nothing on the
 * host; `pulumi refresh` reads it again. Handy to check a connection before creating VMs on it.
 */
export class HostInfo extends pulumi.dynamic.Resource {
  /** The libvirt daemon's version, e.g. `9.0.0`. */
  declare public readonly libvirtVersion: pulumi.Output<string>;
  /** The hypervisor driver, e.g. `QEMU`. */
  declare public readonly hypervisor: pulumi.Output<string>;
  /** The hypervisor's version, e.g. `7.2.22`. */
  declare public readonly hypervisorVersion: pulumi.Output<string>;

  constructor(name: string, args: HostInfoArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      connection: secretConnection(args.connection),
      libvirtVersion: undefined,
      hypervisor: undefined,
      hypervisorVersion: undefined,
    };
    super(hostInfoProvider, name, props, opts, "ovmf", "HostInfo");
  }
}
