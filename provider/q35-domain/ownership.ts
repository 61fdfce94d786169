import { warn } from "../engine-log.js";
import { OvmfError } from "../errors.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { DomainNotFoundError } from "../libvirt/errors.js";
import { managedMetadata, nvramPathOf } from "../libvirt/nvram-users.js";
import { parseDomain } from "../libvirt/domain-xml.js";
import * as virsh from "../libvirt/virsh.js";
import { describeOwner, judge, ownedByAnother, type OwnerMark } from "../owner.js";
import { identity, type Failure } from "../ssh/connection.js";
import type { DomainInputs } from "./spec.js";

/**
 * What a create finds under its domain name: nothing to say (it may take the domain over), or
 * why it must not, as a sentence that names the owner and the ways out. Pure.
 */
export function takeoverRefusal(xml: string, inputs: DomainInputs, target: string): string | undefined {
  const metadata = managedMetadata(xml);
  const where = `domain "${inputs.name}" on ${target}`;
  if (metadata === undefined) {
    if (inputs.adopt === true) return undefined;
    return `${where} already exists and no pulumi-ovmf resource made it: set adopt: true to take it over (it is redefined to these inputs; its UUID, NVRAM file and TPM state are kept), or choose another name`;
  }
  const finding = judge(metadata.owner, inputs.owner);
  if (finding === "leftover" || inputs.adopt === true) return undefined;
  if (finding === "foreign" && metadata.owner !== undefined) {
    return `${where} belongs to ${describeOwner(metadata.owner)}. Give this VM another name, or set adopt: true to take it over on purpose (that stack still lists it; its pulumi destroy then leaves it in place)`;
  }
  return (
    `${where} was made by pulumi-ovmf without an owner mark (by a version before owner marks): it may be another stack's VM. ` +
    `Give this VM another name, or set adopt: true to take it over on purpose`
  );
}

/**
 * Adopting never swaps what the VM had: a domain whose NVRAM file or TPM is not the one declared
 * for it would boot from a fresh variable store, or lose its TPM. Pure.
 */
export function adoptionProblems(xml: string, inputs: DomainInputs, target: string): string[] {
  const problems: string[] = [];
  const where = `domain "${inputs.name}" on ${target}`;
  const nvram = nvramPathOf(xml);
  if (nvram !== undefined && nvram !== inputs.nvram.path) {
    problems.push(
      `${where} uses the NVRAM file ${nvram}, but its Nvram is ${inputs.nvram.path}: adopting it would boot it from that file instead, without its own UEFI variables. ` +
        `Give the Nvram path: "${nvram}" (and adopt: true; SecureBootVm: nvramPath) so that it takes over the domain's own file`,
    );
  }
  const hasTpm = /<tpm[\s>]/.test(xml);
  if (hasTpm && inputs.tpmState === undefined) {
    const uuid = parseDomain(xml).uuid;
    problems.push(`${where} has an emulated TPM (state under UUID ${uuid}): adopting it without a TpmState would remove its TPM. Add a TpmState with uuid: "${uuid}" and pass it as tpm (SecureBootVm: tpm: true, tpmUuid: "${uuid}")`);
  }
  return problems;
}

/**
 * At preview, a domain to be created under a name another resource's domain has fails there,
 * before anything changes (when the host answers: otherwise the create checks). Runs only when the
 * name or host is new, so an unchanged preview opens no connection.
 */
export async function takenNameFailures(olds: Partial<DomainInputs>, inputs: DomainInputs): Promise<Failure[]> {
  // A host move has checks of its own (a domain with its UUID on the new host is refused).
  const fresh = olds.connection === undefined || (olds.name !== inputs.name && identity(olds.connection) === identity(inputs.connection));
  if (!fresh || hasUnknowns([inputs.connection, inputs.name, inputs.nvram, inputs.owner, inputs.adopt, inputs.tpmState])) return [];
  const host = new Host(inputs.connection);
  const xml = await virsh.dumpxml(host, inputs.name, true).catch(() => undefined);
  if (xml === undefined) return [];
  const refusal = takeoverRefusal(xml, inputs, host.target);
  if (refusal !== undefined) return [{ property: "name", reason: refusal }];
  const adopting = inputs.adopt === true || managedMetadata(xml)?.owner !== undefined;
  return adopting ? adoptionProblems(xml, inputs, host.target).map((reason) => ({ property: "adopt", reason })) : [];
}

/** At create, with the domain that holds the name: refuses, or says it is taken over and from whom. */
export async function requireTakeover(host: Host, xml: string, inputs: DomainInputs): Promise<void> {
  const refusal = takeoverRefusal(xml, inputs, host.target);
  if (refusal !== undefined) throw new OvmfError(refusal);
  const problems = adoptionProblems(xml, inputs, host.target);
  if (problems.length > 0) throw new OvmfError(`${problems.join("; ")}. Nothing was changed.`);
  const owner = managedMetadata(xml)?.owner;
  if (owner !== undefined && judge(owner, inputs.owner) === "foreign") {
    await warn(`Q35Domain "${inputs.name}": taking over domain "${inputs.name}" on ${host.target} from ${describeOwner(owner)} (adopt: true). That stack still lists it; its pulumi destroy will leave it in place.`);
  }
}

/**
 * Whether a delete must leave the domain alone: another resource took it over (its mark has
 * another id), or the name now belongs to another domain (another UUID). Says so as a warning.
 * Returns "gone" when there is no such domain.
 */
export async function leaveToOthers(host: Host, name: string, uuid: string, ownerId: string | undefined): Promise<"gone" | "ours" | "others"> {
  const xml = await virsh.dumpxml(host, name, true).catch((e: unknown) => {
    if (e instanceof DomainNotFoundError) return undefined;
    throw e;
  });
  if (xml === undefined) return "gone";
  const mark: OwnerMark | undefined = managedMetadata(xml)?.owner;
  const otherUuid = uuid !== "" && parseDomain(xml).uuid !== uuid;
  if (!ownedByAnother(mark, ownerId) && !otherUuid) return "ours";
  const whose = mark !== undefined && ownedByAnother(mark, ownerId) ? `it now belongs to ${describeOwner(mark)}` : `it is another domain (UUID ${parseDomain(xml).uuid}, this resource's was ${uuid})`;
  await warn(`Q35Domain "${name}": domain "${name}" on ${host.target} was left in place and only removed from this stack: ${whose}.`);
  return "others";
}
