import { describe, expect, it } from "vitest";
import { renderDomain } from "../../provider/libvirt/domain-xml.js";
import { managedMetadata } from "../../provider/libvirt/nvram-users.js";
import { fileTakeoverRefusal } from "../../provider/nvram/ownership.js";
import { judge, mintOwnerId, ownedByAnother, ownerFor, parseMarkFile, renderMarkFile } from "../../provider/owner.js";
import { adoptionProblems, takeoverRefusal } from "../../provider/q35-domain/ownership.js";
import { resolve } from "../../provider/q35-domain/spec.js";
import { RULES_DOMAIN } from "../support/domain.js";

const dev = { stack: "organization/app/dev", resource: "urn:pulumi:dev::app::pulumi-ovmf:index:SecureBootVm$pulumi-nodejs:dynamic/ovmf:Q35Domain::web" };
const staging = { stack: "organization/app/staging", resource: "urn:pulumi:staging::app::pulumi-ovmf:index:SecureBootVm$pulumi-nodejs:dynamic/ovmf:Q35Domain::web" };
const devMark = { ...dev, id: mintOwnerId() };
const domainXml = (owner = devMark) => renderDomain(resolve(RULES_DOMAIN, "qemu"), undefined, owner);

describe("owner marks", () => {
  it("round-trips a mark file, id first, and refuses what is not one", () => {
    const text = renderMarkFile(devMark);
    expect(text.split("\n")[0]).toBe(`id=${devMark.id}`);
    expect(parseMarkFile(text)).toEqual(devMark);
    expect(parseMarkFile("id=xyz\n")).toBeUndefined();
    expect(parseMarkFile(undefined)).toBeUndefined();
  });

  it("tells its own leftover from another resource's and from an unmarked thing", () => {
    expect(judge(devMark, dev)).toBe("leftover");
    expect(judge(devMark, staging)).toBe("foreign");
    expect(judge(undefined, staging)).toBe("unmarked");
    // A leftover keeps its id (domain and file agree); anything else gets a new one.
    expect(ownerFor(dev, devMark)?.id).toBe(devMark.id);
    expect(ownerFor(staging, devMark)?.id).not.toBe(devMark.id);
    // A delete leaves only what carries another resource's id; unmarked things stay the resource's own.
    expect(ownedByAnother(devMark, devMark.id)).toBe(false);
    expect(ownedByAnother(devMark, "0".repeat(32))).toBe(true);
    expect(ownedByAnother(undefined, undefined)).toBe(false);
  });

  it("writes the mark into the domain's metadata and reads it back", () => {
    expect(managedMetadata(domainXml())).toEqual({ shutdownTimeoutSeconds: 60, owner: devMark });
  });

  it("refuses another stack's domain at create, naming its owner and the ways out; adopt and its own leftover pass", () => {
    const second = { ...RULES_DOMAIN, owner: staging };
    expect(takeoverRefusal(domainXml(), second, "root@kvm1:22")).toBe(
      `domain "web" on root@kvm1:22 belongs to ${dev.resource} of stack organization/app/dev. Give this VM another name, or set adopt: true to take it over on purpose (that stack still lists it; its pulumi destroy then leaves it in place)`,
    );
    expect(takeoverRefusal(domainXml(), { ...second, adopt: true }, "root@kvm1:22")).toBeUndefined();
    expect(takeoverRefusal(domainXml(), { ...RULES_DOMAIN, owner: dev }, "root@kvm1:22")).toBeUndefined();
    const unmarked = renderDomain(resolve(RULES_DOMAIN, "qemu"));
    expect(takeoverRefusal(unmarked, second, "root@kvm1:22")).toContain("was made by pulumi-ovmf without an owner mark");
  });

  it("refuses to adopt a domain onto another NVRAM file, or without its TPM", () => {
    const theirs = renderDomain(resolve({ ...RULES_DOMAIN, nvram: { path: "/var/lib/libvirt/qemu/nvram/old_VARS.fd", variant: "4M" }, tpm: true }, "qemu"), "6a268b8c-8fe3-447d-bd35-9188ec787d55");
    const problems = adoptionProblems(theirs, { ...RULES_DOMAIN, adopt: true }, "root@kvm1:22");
    expect(problems[0]).toContain(`uses the NVRAM file /var/lib/libvirt/qemu/nvram/old_VARS.fd, but its Nvram is /n.fd`);
    expect(problems[0]).toContain(`Give the Nvram path: "/var/lib/libvirt/qemu/nvram/old_VARS.fd"`);
    expect(problems[1]).toContain(`Add a TpmState with uuid: "6a268b8c-8fe3-447d-bd35-9188ec787d55"`);
    expect(adoptionProblems(domainXml(), { ...RULES_DOMAIN, adopt: true }, "root@kvm1:22")).toEqual([]);
  });

  it("refuses another stack's NVRAM file and an unmarked one unless adopt", () => {
    const inputs = { connection: RULES_DOMAIN.connection, path: "/var/lib/libvirt/qemu/nvram/web_VARS.fd", owner: staging };
    expect(fileTakeoverRefusal(devMark, inputs, "root@kvm1:22")).toContain(`belongs to ${dev.resource} of stack organization/app/dev`);
    expect(fileTakeoverRefusal(undefined, inputs, "root@kvm1:22")).toContain("no Nvram marked it as its own");
    expect(fileTakeoverRefusal(devMark, { ...inputs, adopt: true }, "root@kvm1:22")).toBeUndefined();
    expect(fileTakeoverRefusal(devMark, { ...inputs, owner: dev }, "root@kvm1:22")).toBeUndefined();
  });
});
