import { Host } from "../host/host.js";
import * as virsh from "../libvirt/virsh.js";
import type { LibvirtVersions } from "../libvirt/version.js";
import { describeTarget, validateConnection, type ConnectionSpec, type Failure } from "../ssh/connection.js";
import { isUnknown, stripProvider } from "../dynamic.js";

/** HostInfo inputs: just where the host is. */
export interface HostInfoInputs {
  connection: ConnectionSpec;
}

/** HostInfo outputs: the inputs plus what the host reports. */
export interface HostInfoOutputs extends HostInfoInputs {
  libvirtVersion: string;
  hypervisor: string;
  hypervisorVersion: string;
}

function queryHost(connection: ConnectionSpec): Promise<LibvirtVersions> {
  return virsh.version(new Host(connection));
}

export const hostInfoProvider = {
  async check(_olds: unknown, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: Failure[] }> {
    const inputs = stripProvider(news);
    return { inputs, failures: validateConnection(inputs["connection"], "connection", isUnknown) };
  },

  async diff(_id: string, olds: HostInfoOutputs, news: HostInfoInputs) {
    if (isUnknown(news.connection) || isUnknown(news.connection.host)) return { changes: true };
    const replace = describeTarget(olds.connection) !== describeTarget(news.connection);
    const changed = JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
    return { changes: replace || changed, replaces: replace ? ["connection"] : [], deleteBeforeReplace: false };
  },

  async create(inputs: HostInfoInputs) {
    const clean = stripProvider(inputs) as unknown as HostInfoInputs;
    const v = await queryHost(clean.connection);
    const outs: HostInfoOutputs = { ...clean, libvirtVersion: v.libvirt, hypervisor: v.hypervisor, hypervisorVersion: v.hypervisorVersion };
    // A change of host, port or user is another HostInfo (replace); the id says which.
    return { id: describeTarget(clean.connection), outs };
  },

  async read(id: string, props: HostInfoOutputs) {
    const clean = stripProvider(props) as unknown as HostInfoOutputs;
    const v = await queryHost(clean.connection);
    return { id, props: { ...clean, libvirtVersion: v.libvirt, hypervisor: v.hypervisor, hypervisorVersion: v.hypervisorVersion } };
  },

  async update(_id: string, _olds: HostInfoOutputs, news: HostInfoInputs) {
    const clean = stripProvider(news) as unknown as HostInfoInputs;
    const v = await queryHost(clean.connection);
    return { outs: { ...clean, libvirtVersion: v.libvirt, hypervisor: v.hypervisor, hypervisorVersion: v.hypervisorVersion } };
  },

  async delete(): Promise<void> {
    // HostInfo only reads the host: nothing to remove.
  },
};
