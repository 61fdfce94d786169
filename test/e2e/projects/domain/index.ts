// Scenario program for test/e2e/q35-domain.test.ts. Config:
//   hosts, privateKey     the test hosts (scripts/pulumi-stack.mts --testhost)
//   host                  which test host everything goes on (default "a")
//   secureBoot            "true" (default): Secure Boot firmware with enrolled keys; "false": plain UEFI
//   domainName            the domain's name (default "e2e-vm")
//   memoryMiB             default 256
//   running               default true
//   domain                "false": leave the Q35Domain out (its Nvram stays)
//   nvramReset            the Nvram's resetTrigger (changing it re-creates the file from the template)
//   bad                   "ide-cdrom" | "secure-boot-on-plain" | "bad-mac": an invalid input
//   diskPath              a disk image on the host to attach as disks[0] (default: no disk)
//   diskFormat            its declared format (default: none, read from the file)
//   network               a libvirt network for one NIC (default: no NIC)
import * as pulumi from "@pulumi/pulumi";
import { FirmwareImage, Nvram, Q35Domain, type CdromSpec, type ConnectionArgs } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const hostName = config.get("host") ?? "a";
const h = hosts.find((x) => x.name === hostName);
if (h === undefined) throw new Error(`no test host ${hostName}`);
const connection: ConnectionArgs = { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: config.requireSecret("privateKey") };

const secureBoot = config.get("secureBoot") !== "false";
const bad = config.get("bad") ?? "";
const diskPath = config.get("diskPath") ?? "";
const diskFormat = config.get("diskFormat") ?? "";
const network = config.get("network") ?? "";
const firmware = new FirmwareImage("fw", { connection, secureBoot, enrolledKeys: secureBoot ? true : false });
const nvram = new Nvram("e2e-vm", { connection, firmware, resetTrigger: config.get("nvramReset") ?? "" });

const domain =
  config.get("domain") === "false"
    ? undefined
    : new Q35Domain("vm", {
        connection,
        name: config.get("domainName") ?? "e2e-vm",
        memoryMiB: config.getNumber("memoryMiB") ?? 256,
        vcpus: 1,
        firmware,
        nvram,
        graphics: { type: "none" },
        running: config.get("running") !== "false",
        shutdownTimeoutSeconds: 5,
        ...(bad === "ide-cdrom" ? { cdroms: [{ bus: "ide" } as unknown as CdromSpec] } : {}),
        ...(bad === "secure-boot-on-plain" ? { secureBoot: true } : {}),
        ...(bad === "bad-mac" ? { networks: [{ network: "default", mac: "01:00:5e:00:00:01" }] } : {}),
        ...(network === "" ? {} : { networks: [{ network }] }),
        ...(diskPath === "" ? {} : { disks: [{ path: diskPath, ...(diskFormat === "" ? {} : { format: diskFormat as "raw" | "qcow2" }) }] }),
      });

export const nvramPath = nvram.path;
export const templateSha256 = nvram.templateSha256;
export const secureBootEnforced = nvram.varStore.apply((v) => v?.secureBootEnforced);
export const domainName = domain?.name;
export const serialLogPath = domain?.serialLogPath;
export const domainType = domain?.resolvedDomainType;
export const machine = domain?.machine;
