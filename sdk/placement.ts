import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection.js";

// Where each resource of this program lives (`host:port` of its connection), so that a resource
// that uses another (a domain its Nvram, an Nvram its FirmwareImage) can say at preview that they
// are on different hosts. Kept beside the resource, not in it: read at construction, when the
// declared connection is known even though the resource's outputs are not yet.
const hosts = new WeakMap<object, pulumi.Output<string>>();

/** Records the host of a resource from its declared connection. @internal */
export function recordHost(resource: object, connection: pulumi.Input<ConnectionArgs>): void {
  // Host and port are not secret; the connection's credentials would make the whole value so.
  const where = pulumi.output(connection).apply((c) => `${c.host}:${c.port ?? 22}`);
  hosts.set(resource, pulumi.unsecret(where));
}

/** The recorded host of a resource, if it was made by this SDK in this program. @internal */
export function hostOf(resource: object | undefined): pulumi.Output<string> | undefined {
  return resource === undefined ? undefined : hosts.get(resource);
}
