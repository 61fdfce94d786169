import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { peerFailures } from "../../provider/peers.js";

// A Q35Domain wired by hand to an Nvram on another host boots nothing it was given: the SDK tells
// the provider where each used resource lives, and the preview refuses the mismatch.
const registered = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(`${args.type.replace(/^.*:/, "")}::${args.name}`, args.inputs as Record<string, unknown>);
        const firmware = { code: { path: "/c.fd", size: 3653632 }, varsTemplate: { path: "/v.fd" }, codePath: "/c.fd", varsTemplatePath: "/v.fd", features: [] };
        return { id: `${args.name}-id`, state: { ...args.inputs, ...firmware, variant: "4M", uuid: "6a268b8c-8fe3-447d-bd35-9188ec787d55" } };
      },
      call: (args) => args.inputs,
    },
    "app",
    "dev",
    false,
    "organization",
  );
});

const pin = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";

describe("resources on one host", () => {
  it("the SDK passes the hosts of the FirmwareImage, Nvram and TpmState a domain uses, and who owns it", async () => {
    const { FirmwareImage, Nvram, Q35Domain, TpmState } = await import("../../sdk/index.js");
    const kvm1 = { host: "kvm1", hostKey: pin, privateKey: pulumi.secret("key") };
    const firmware = new FirmwareImage("fw", { connection: kvm1, secureBoot: true, enrolledKeys: true });
    const nvram = new Nvram("web", { connection: pulumi.output({ host: "kvm2", port: 2222, hostKey: pin }), firmware });
    const tpm = new TpmState("web", { connection: kvm1 });
    const domain = new Q35Domain("web", { connection: kvm1, firmware, nvram, tpm, memoryMiB: 1024, vcpus: 1 });
    await new Promise((resolve) => pulumi.all([domain.urn, nvram.urn, tpm.urn]).apply(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const inputs = registered.get("Q35Domain::web");
    expect(inputs?.["peers"]).toEqual({ firmware: "kvm1:22", nvram: "kvm2:2222", tpmState: "kvm1:22" });
    expect(inputs?.["owner"]).toEqual({ stack: "organization/app/dev", resource: "urn:pulumi:dev::app::pulumi-nodejs:dynamic/ovmf:Q35Domain::web" });
    expect(registered.get("Nvram::web")?.["peers"]).toEqual({ firmware: "kvm1:22" });
  });

  it("the preview names the resource on another host and how to fix it", () => {
    const failures = peerFailures("Q35Domain", { host: "kvm1", hostKey: pin }, { firmware: "kvm1:22", nvram: "kvm2:2222", tpmState: "kvm1:22" });
    expect(failures).toEqual([
      {
        property: "nvram",
        reason:
          "the Nvram is on kvm2:2222, this Q35Domain on kvm1:22: they must be on one host, given the same way (the same host name or address and port in both connections). Give the Nvram this Q35Domain's connection, or make one on kvm1:22",
      },
    ]);
    expect(peerFailures("Nvram", { host: "kvm1", port: 22, hostKey: pin }, { firmware: "kvm1:22" })).toEqual([]);
  });
});
