// Scenario program for test/e2e/nvram.test.ts. Config:
//   hosts, privateKey           the test hosts (set by scripts/pulumi-stack.mts --testhost)
//   nvramHosts                  JSON list: the host name ("a", "b") of each Nvram; its length is the count
//   backup                      "true": Nvram 0 keeps a backup in the state
//   clone                       "true": one more Nvram cloned from Nvram 0
//   mismatch                    "true": a FirmwareImage pairing the 4M CODE with the 2M vars template
import * as pulumi from "@pulumi/pulumi";
import { FirmwareImage, Nvram, type ConnectionArgs } from "pulumi-ovmf";

const config = new pulumi.Config();
const hosts = config.requireObject<Array<{ name: string; host: string; port: number; user: string; hostKey: string }>>("hosts");
const privateKey = config.requireSecret("privateKey");
const connection = (name: string): ConnectionArgs => {
  const h = hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`no test host ${name}`);
  return { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey };
};

const nvramHosts = JSON.parse(config.get("nvramHosts") ?? '["a"]') as string[];
const firmware = new Map<string, FirmwareImage>();
const firmwareOn = (name: string) => {
  let fw = firmware.get(name);
  if (fw === undefined) {
    fw = new FirmwareImage(`fw-${name}`, { connection: connection(name), secureBoot: true, enrolledKeys: true });
    firmware.set(name, fw);
  }
  return fw;
};

const nvrams = nvramHosts.map(
  (hostName, i) => new Nvram(`e2e-nv${i}`, { connection: connection(hostName), firmware: firmwareOn(hostName), backup: i === 0 && config.getBoolean("backup") === true }),
);
const clone =
  config.getBoolean("clone") === true && nvrams[0] !== undefined
    ? new Nvram("e2e-nv0-clone", { connection: connection(nvramHosts[0] ?? "a"), firmware: firmwareOn(nvramHosts[0] ?? "a"), source: nvrams[0] })
    : undefined;

if (config.getBoolean("mismatch") === true) {
  new FirmwareImage("mismatched", { connection: connection("a"), codePath: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS.ms.fd" });
}

export const firmwareCode = [...firmware.values()].map((f) => f.code);
export const firmwareVariant = [...firmware.values()].map((f) => f.variant);
export const nvramPaths = nvrams.map((n) => n.path);
export const nvramSha256 = nvrams.map((n) => n.sha256);
export const nvramSizes = nvrams.map((n) => n.sizeBytes);
export const templateSha256 = nvrams.map((n) => n.templateSha256);
export const clonePath = clone?.path;
export const cloneSha256 = clone?.sha256;
