import { Host } from "../host/host.js";
import * as virsh from "../libvirt/virsh.js";
import { describeTarget, validateConnection, type ConnectionSpec, type Failure } from "../ssh/connection.js";
import { isUnknown, stripProvider } from "../dynamic.js";
import { checkHost } from "./check-host.js";
import type { Readiness } from "./readiness.js";

/** HostInfo inputs: just where the host is. */
export interface HostInfoInputs {
  connection: ConnectionSpec;
}

/** HostInfo outputs: the inputs plus what the host reports. */
export interface HostInfoOutputs extends HostInfoInputs {
  libvirtVersion: string;
  hypervisor: string;
  hypervisorVersion: string;
  /** The host's distribution (/etc/os-release's PRETTY_NAME). */
  distribution: string;
  /** What the host has and lacks for pulumi-ovmf: the report `npx pulumi-ovmf check-host` prints. */
  readiness: Readiness;
}

type HostReport = Omit<HostInfoOutputs, keyof HostInfoInputs>;

async function queryHost(connection: ConnectionSpec): Promise<HostReport> {
  const { distribution, readiness, facts } = await checkHost(connection);
  // The probe read the versions; when libvirt did not answer, virsh's own call fails with its
  // classified error (as HostInfo always has): HostInfo's versions are not optional.
  const v = facts.libvirt.ok ? facts.libvirt.versions : await virsh.version(new Host(connection));
  return { libvirtVersion: v.libvirt, hypervisor: v.hypervisor, hypervisorVersion: v.hypervisorVersion, distribution, readiness };
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
    const outs: HostInfoOutputs = { ...clean, ...(await queryHost(clean.connection)) };
    // A change of host, port or user is another HostInfo (replace); the id says which.
    return { id: describeTarget(clean.connection), outs };
  },

  async read(id: string, props: HostInfoOutputs) {
    const clean = stripProvider(props) as unknown as HostInfoOutputs;
    return { id, props: { ...clean, ...(await queryHost(clean.connection)) } };
  },

  async update(_id: string, _olds: HostInfoOutputs, news: HostInfoInputs) {
    const clean = stripProvider(news) as unknown as HostInfoInputs;
    return { outs: { ...clean, ...(await queryHost(clean.connection)) } };
  },

  async delete(): Promise<void> {
    // HostInfo only reads the host: nothing to remove.
  },
};
