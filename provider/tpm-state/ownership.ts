import { warn } from "../engine-log.js";
import { OvmfError } from "../errors.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { describeOwner, judge, ownedByAnother, type OwnerMark } from "../owner.js";
import type { Failure } from "../ssh/connection.js";
import { statePath, type TpmStateInputs } from "./model.js";
import { readPermall, readStateMark } from "./remote.js";

/**
 * Why a create must not take over the TPM state already under its UUID: it carries another
 * resource's owner mark and adopt is not set. Unmarked states are taken over: giving `uuid` is
 * how a VM's existing TPM is adopted. Pure.
 */
export function stateTakeoverRefusal(found: OwnerMark | undefined, inputs: TpmStateInputs, uuid: string, target: string): string | undefined {
  if (found === undefined || judge(found, inputs.owner) === "leftover" || inputs.adopt === true) return undefined;
  return (
    `the TPM state ${statePath(uuid)} on ${target} belongs to ${describeOwner(found)}. ` +
    `Leave out uuid (SecureBootVm: tpmUuid) for a new TPM, or set adopt: true to take it over on purpose (that stack still lists it; its pulumi destroy then leaves it in place)`
  );
}

/** At create, with the state found under the UUID: refuses, or warns that it is taken over from another resource. */
export async function requireStateTakeover(host: Host, found: OwnerMark | undefined, inputs: TpmStateInputs, uuid: string): Promise<void> {
  const refusal = stateTakeoverRefusal(found, inputs, uuid, host.target);
  if (refusal !== undefined) throw new OvmfError(`${refusal}. Nothing was changed.`);
  if (found !== undefined && judge(found, inputs.owner) === "foreign") {
    await warn(`TpmState ${statePath(uuid)}: taking over the state on ${host.target} from ${describeOwner(found)} (adopt: true). That stack still lists it; its pulumi destroy will leave it in place.`);
  }
}

/** At preview, a create with a `uuid` whose state another resource owns fails there (when the host answers). */
export async function takenStateFailures(olds: Partial<TpmStateInputs>, inputs: TpmStateInputs): Promise<Failure[]> {
  const uuid = inputs.uuid;
  if (olds.connection !== undefined || uuid === undefined || hasUnknowns([inputs.connection, uuid, inputs.owner, inputs.adopt])) return [];
  const host = new Host(inputs.connection);
  const found = await readStateMark(host, uuid).catch(() => undefined);
  const refusal = stateTakeoverRefusal(found, inputs, uuid, host.target);
  return refusal === undefined ? [] : [{ property: "uuid", reason: refusal }];
}

/**
 * Whether an operation must leave the state alone (another resource took it over); says so as a
 * warning that ends with `outcome`.
 */
export async function leftToOthers(host: Host, uuid: string, ownerId: string | undefined, outcome: string): Promise<boolean> {
  if ((await readPermall(host, uuid)) === undefined) return false;
  const found = await readStateMark(host, uuid);
  if (found === undefined || !ownedByAnother(found, ownerId)) return false;
  await warn(`TpmState ${statePath(uuid)} on ${host.target} now belongs to ${describeOwner(found)}: ${outcome}.`);
  return true;
}
