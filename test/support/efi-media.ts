import { readFile, writeFileAtomic } from "../../provider/host/files.js";
import type { Host } from "../../provider/host/host.js";
import { authenticodeSha256, keepSignature, signatureCount } from "./pe.js";

/** EFI boot disks built on a test host from Debian's packages, for the Secure Boot boot proofs. */
export interface BootMedia {
  /** Our own db certificate (PEM), whose key signed `own`. */
  ownCertificate: string;
  /** systemd-boot (systemd-boot-efi) signed with our own key, as the disk's \EFI\BOOT\BOOTX64.EFI. */
  own: string;
  /** Its Authenticode SHA-256, what a dbx entry revoking it holds. */
  ownSha256: string;
  /** Debian's Microsoft-signed shim (shim-signed) with only its signature by Microsoft UEFI CA 2011. */
  shim2011: string;
  /** The same shim with only its signature by Microsoft UEFI CA 2023. */
  shim2023: string;
}

const SYSTEMD_BOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
const SHIM = "/usr/lib/shim/shimx64.efi.signed";

/**
 * A raw FAT disk (no partition table: OVMF boots it as removable media) holding `efi` as
 * BOOTX64.EFI, and `loaderConf` as systemd-boot's loader/loader.conf when given.
 */
async function espImage(host: Host, efi: string, image: string, loaderConf?: string): Promise<void> {
  await host.check(["rm", "-f", "--", image], `rm ${image}`);
  await host.check(["truncate", "-s", "16M", "--", image], `truncate ${image}`);
  await host.check(["mkfs.vfat", "-n", "ESP", image], `mkfs.vfat ${image}`);
  await host.check(["mmd", "-i", image, "::/EFI", "::/EFI/BOOT"], `mmd ${image}`);
  await host.check(["mcopy", "-i", image, efi, "::/EFI/BOOT/BOOTX64.EFI"], `mcopy ${image}`);
  if (loaderConf !== undefined) {
    await host.check(["mmd", "-i", image, "::/loader"], `mmd ${image}`);
    await host.check(["mcopy", "-i", image, loaderConf, "::/loader/loader.conf"], `mcopy ${image}`);
  }
}

/** Which Microsoft CA signed a one-signature binary, as sbverify --list reports it. */
async function signer(host: Host, efi: string): Promise<string> {
  const listed = await host.check(["sbverify", "--list", efi], `sbverify ${efi}`);
  return /image signature issuers:\s*\n\s*- .*CN=([^\n]*)/.exec(listed.stdout)?.[1]?.trim() ?? "(none)";
}

/** Builds the keys, binaries and disks in `dir` on the host (replacing what a previous run left). */
export async function buildBootMedia(host: Host, dir: string): Promise<BootMedia> {
  await host.check(["mkdir", "-p", "--", dir], `mkdir ${dir}`);
  const at = (f: string) => `${dir}/${f}`;
  await host.check(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("db.key"), "-out", at("db.crt"), "-subj", "/CN=pulumi-ovmf e2e db/", "-days", "3650"], "openssl req");
  await host.check(["sbsign", "--key", at("db.key"), "--cert", at("db.crt"), "--output", at("own.efi"), SYSTEMD_BOOT], "sbsign");
  const shim = await readFile(host, SHIM);
  if (signatureCount(shim) !== 2) throw new Error(`${SHIM} has ${signatureCount(shim)} signatures; these tests expect Debian's dual-signed shim (Microsoft UEFI CA 2011 and 2023)`);
  const split: Record<string, string> = {};
  for (const i of [0, 1]) {
    const file = at(`shim-${i}.efi`);
    await writeFileAtomic(host, file, keepSignature(shim, i), { mode: "644" });
    split[await signer(host, file)] = file;
  }
  const shim2011 = split["Microsoft Corporation UEFI CA 2011"];
  const shim2023 = split["Microsoft UEFI CA 2023"];
  if (shim2011 === undefined || shim2023 === undefined) throw new Error(`unexpected shim signers: ${Object.keys(split).join(", ")}`);
  // systemd-boot waits in its menu (without it, it reboots into the firmware after 10 s, and the
  // firmware writes OsIndications: the NVRAM would change under the test).
  await writeFileAtomic(host, at("loader.conf"), Buffer.from("timeout menu-force\n"), { mode: "644" });
  await Promise.all([espImage(host, at("own.efi"), at("own.img"), at("loader.conf")), espImage(host, shim2011, at("shim2011.img")), espImage(host, shim2023, at("shim2023.img"))]);
  return {
    ownCertificate: (await readFile(host, at("db.crt"))).toString("utf8"),
    own: at("own.img"),
    ownSha256: authenticodeSha256(await readFile(host, at("own.efi"))),
    shim2011: at("shim2011.img"),
    shim2023: at("shim2023.img"),
  };
}

/** OVMF's boot manager started the disk's loader: its signature passed. */
export const BOOTED = /BdsDxe: starting Boot\d+ "UEFI[^"]*" from PciRoot/;
/**
 * OVMF refused the disk's loader: image verification failed, so LoadImage returned Access Denied
 * (edk2 2022.11, Debian 12; other builds say Security Violation).
 */
export const REFUSED = /BdsDxe: failed to load Boot\d+ "UEFI[^"]*" from PciRoot[^\n]*: (Access Denied|Security Violation)/;
