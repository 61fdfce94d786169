import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { secretConnection, type ConnectionArgs } from "../../sdk/connection.js";
import { FirmwareImage } from "../../sdk/firmware-image.js";
import { HostInfo } from "../../sdk/host-info.js";

// What the engine receives for a resource's `connection`, under Pulumi's mocks (no engine, no host).
const FP = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";
const SECRET = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig };
const registered = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, args.inputs as Record<string, unknown>);
        // A FirmwareImage's outputs include its files (the sdk reads their paths).
        return { id: `${args.name}-id`, state: { ...args.inputs, code: { path: "/c.fd" }, varsTemplate: { path: "/v.fd" } } };
      },
      call: () => ({}),
    },
    "project",
    "stack",
    false,
  );
});

/** The connection as serialized for the engine: secret fields carry Pulumi's secret signature. */
async function wire(connection: pulumi.Input<ConnectionArgs>): Promise<Record<string, unknown>> {
  const { connection: c } = await pulumi.runtime.serializeProperties("test", { connection: secretConnection(connection) });
  return c as Record<string, unknown>;
}

const secret = (value: unknown) => ({ ...SECRET, value });

describe("connection as an Input", () => {
  it("a connection given as one Output reaches the engine with only its credentials secret", async () => {
    const connection = pulumi.output({ host: "kvm1", port: 2222, hostKey: FP, privateKey: "KEY TEXT", jumpHost: { host: "bastion", hostKey: FP, password: "pw" } });
    expect(await wire(connection)).toEqual({
      host: "kvm1",
      port: 2222,
      hostKey: FP,
      privateKey: secret("KEY TEXT"),
      jumpHost: secret({ host: "bastion", hostKey: FP, password: "pw" }),
    });
  });

  it("a whole secret connection stays secret in every field, and absent fields stay absent", async () => {
    const c = await wire(pulumi.secret({ host: "kvm1", hostKey: FP, sudo: true }));
    expect(c).toEqual({ host: secret("kvm1"), hostKey: secret(FP), sudo: secret(true) });
  });

  it("a plain connection keeps host, port and user readable, as before", async () => {
    const c = await wire({ host: "kvm1", user: "ops", hostKey: FP, password: pulumi.output("pw"), timeoutSeconds: 10 });
    expect(c).toEqual({ host: "kvm1", user: "ops", hostKey: FP, password: secret("pw"), timeoutSeconds: 10 });
  });

  it("another resource's connection output can be passed to a resource, and arrives with its key secret", async () => {
    const firmware = new FirmwareImage("kvm1-ovmf", { connection: { host: "kvm1", hostKey: FP, privateKey: "KEY TEXT" } });
    const info = new HostInfo("kvm1", { connection: firmware.connection });
    // An Output that is not secret itself (here: computed from another resource's id).
    const computed = firmware.id.apply(() => ({ host: "kvm2", hostKey: FP, privateKey: "KEY TEXT" }));
    const other = new HostInfo("kvm2", { connection: computed });
    await Promise.all([info, other].map((r) => new Promise<void>((resolve) => r.urn.apply(() => resolve()))));
    // The mock engine hands inputs over with the secretness of any field lifted to the whole object.
    expect(registered.get("kvm1")?.["connection"]).toEqual(secret({ host: "kvm1", hostKey: FP, privateKey: "KEY TEXT" }));
    expect(registered.get("kvm2")?.["connection"]).toEqual(secret({ host: "kvm2", hostKey: FP, privateKey: "KEY TEXT" }));
  });
});
