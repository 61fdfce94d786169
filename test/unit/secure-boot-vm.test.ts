import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

// What SecureBootVm hands its children, with Pulumi's mocks (no engine, no host): every input a
// user sets on the component must reach the Q35Domain, Nvram or TpmState that applies it.
const registered = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(`${args.type.replace(/^.*:/, "")}::${args.name}`, args.inputs as Record<string, unknown>);
        // Just enough outputs for the SDK's own use of them (a FirmwareImage's files, an Nvram's variant).
        const firmware = { code: { path: "/c.fd", size: 3653632 }, varsTemplate: { path: "/v.fd" }, codePath: "/c.fd", varsTemplatePath: "/v.fd", features: ["secure-boot"] };
        return { id: `${args.name}-id`, state: { ...args.inputs, ...firmware, variant: "4M", uuid: "6a268b8c-8fe3-447d-bd35-9188ec787d55", xml: "", certificates: [] } };
      },
      call: (args) => args.inputs,
    },
    "project",
    "stack",
    false,
    "organization",
  );
});

const connection = { host: "kvm1", hostKey: "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII" };

/** Builds a SecureBootVm and waits until its children have registered. */
async function build(args: Record<string, unknown>, name = "web"): Promise<void> {
  registered.clear();
  const { SecureBootVm } = await import("../../sdk/secure-boot-vm.js");
  const vm = new SecureBootVm(name, { connection, memoryMiB: 1024, vcpus: 2, ...args });
  await new Promise((resolve) => pulumi.all([vm.domain.urn, vm.nvram.urn, vm.tpm?.urn]).apply(resolve));
}

describe("SecureBootVm passes its inputs to its children", () => {
  it("the domain gets domainType, cpuMode, cpuModel, autostart, graphics, hostdevs, devicesXml and adopt", async () => {
    const given = {
      domainType: "qemu",
      cpuMode: "custom",
      cpuModel: "Skylake-Client",
      autostart: true,
      graphics: { type: "spice", listen: "10.0.0.5" },
      hostdevs: [{ address: "0000:01:00.0", primaryGpu: true }],
      devicesXml: "<watchdog model='itco' action='reset'/>",
      adopt: true,
    };
    await build(given);
    expect(registered.get("Q35Domain::web")).toMatchObject(given);
  });

  it("the Nvram gets nvramPath, nvramResetTrigger and adopt; the TpmState tpmUuid and adopt", async () => {
    await build({ nvramPath: "/srv/nvram/web.fd", nvramResetTrigger: 2, adopt: true, tpm: true, tpmUuid: "6a268b8c-8fe3-447d-bd35-9188ec787d55" });
    expect(registered.get("Nvram::web")).toMatchObject({ path: "/srv/nvram/web.fd", resetTrigger: 2, adopt: true });
    expect(registered.get("TpmState::web")).toMatchObject({ uuid: "6a268b8c-8fe3-447d-bd35-9188ec787d55", vmName: "web", adopt: true });
  });

  it("names the domain and the NVRAM file after `name`, its children after the component (a rename keeps them)", async () => {
    await build({ name: "web-2", tpm: true }, "web");
    expect(registered.get("Q35Domain::web")).toMatchObject({ name: "web-2" });
    expect(registered.get("Nvram::web")).toMatchObject({ path: "/var/lib/libvirt/qemu/nvram/web-2_VARS.fd" });
    expect(registered.get("TpmState::web")).toMatchObject({ vmName: "web-2" });
    expect([...registered.keys()].sort()).toEqual(["FirmwareImage::web-firmware", "Nvram::web", "Q35Domain::web", "SecureBootVm::web", "TpmState::web"]);
  });

  it("without `name`, the NVRAM file is the one an Nvram of the component's name has by default (existing stacks unchanged)", async () => {
    await build({}, "sb+demo");
    expect(registered.get("Nvram::sb+demo")).toMatchObject({ path: "/var/lib/libvirt/qemu/nvram/sb_demo_VARS.fd" });
    expect(registered.get("Q35Domain::sb+demo")).toMatchObject({ name: "sb+demo" });
    // Inputs left out stay out: the children's defaults apply.
    expect(registered.get("Q35Domain::sb+demo")).not.toHaveProperty("cpuModel");
    expect(registered.get("Nvram::sb+demo")).not.toHaveProperty("resetTrigger");
  });
});

describe("the provider's errors name what a SecureBootVm takes", () => {
  it("every `SecureBootVm: <input>` in an error or warning is an input of SecureBootVmArgs", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const path = await import("node:path");
    const root = path.join(__dirname, "../..");
    const sdk = readFileSync(path.join(root, "sdk/secure-boot-vm.ts"), "utf8");
    const body = sdk.slice(sdk.indexOf("export interface SecureBootVmArgs"), sdk.indexOf("\n}\n", sdk.indexOf("export interface SecureBootVmArgs")));
    const inputs = new Set([...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!));
    const named: string[] = [];
    for (const file of readdirSync(path.join(root, "provider"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(path.join(root, "provider", file), "utf8").matchAll(/SecureBootVm: (\w+)/g)) named.push(`${file}: ${m[1]}`);
    }
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((n) => !inputs.has(n.split(": ")[1]!))).toEqual([]);
  });
});
