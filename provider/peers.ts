import { isUnknown } from "./dynamic.js";
import { identity, type ConnectionSpec, type Failure } from "./ssh/connection.js";

/**
 * Where the resources a resource uses live (`host:port` of their connections, set by the SDK): a
 * domain boots its FirmwareImage's CODE and its Nvram's file and starts with its TpmState's state,
 * all on its own host; an Nvram copies its FirmwareImage's template on its own host.
 */
export interface Peers {
  firmware?: string;
  nvram?: string;
  tpmState?: string;
}

const PROPERTY: Record<keyof Peers, { property: string; kind: string }> = {
  firmware: { property: "firmware", kind: "FirmwareImage" },
  nvram: { property: "nvram", kind: "Nvram" },
  tpmState: { property: "tpm", kind: "TpmState" },
};

/** A failure for each used resource on another host than `connection`. Unknown values pass. Pure. */
export function peerFailures(kind: string, connection: ConnectionSpec, peers: Peers | undefined): Failure[] {
  if (peers === undefined || isUnknown(peers) || isUnknown(connection) || isUnknown(connection.host) || isUnknown(connection.port)) return [];
  const here = identity(connection);
  return (Object.keys(PROPERTY) as Array<keyof Peers>).flatMap((key) => {
    const there = peers[key];
    if (there === undefined || isUnknown(there) || there === here) return [];
    const { property, kind: peerKind } = PROPERTY[key];
    return [
      {
        property,
        reason:
          `the ${peerKind} is on ${there}, this ${kind} on ${here}: they must be on one host, given the same way ` +
          `(the same host name or address and port in both connections). Give the ${peerKind} this ${kind}'s connection, or make one on ${here}`,
      },
    ];
  });
}
