/** OVMF flash layouts: CODE + VARS fill a 2 MiB or a 4 MiB flash. */
export type FirmwareVariant = "2M" | "4M";

const MIB = 1024 * 1024;

/**
 * The variant a CODE/VARS pair forms, or undefined when the sizes do not add up to one (for
 * example a 4M CODE with a 128 KiB VARS: it boots, but variable writes are silently lost).
 * Debian: 2M = 1,966,080 + 131,072 bytes; 4M = 3,653,632 + 540,672 bytes.
 */
export function firmwareVariant(codeSize: number, varsSize: number): FirmwareVariant | undefined {
  if (codeSize + varsSize === 2 * MIB) return "2M";
  if (codeSize + varsSize === 4 * MIB) return "4M";
  return undefined;
}

/** The explanation for a CODE/VARS pair that does not form a variant, naming both files and sizes. */
export function variantMismatchReason(codePath: string, codeSize: number, varsPath: string, varsSize: number): string {
  const codeVariant = codeSize > 2 * MIB ? "4M" : "2M";
  const expected = codeVariant === "4M" ? 4 * MIB - codeSize : 2 * MIB - codeSize;
  return (
    `${varsPath} (${varsSize.toLocaleString("en-US")} bytes) does not match the firmware ${codePath} ` +
    `(${codeSize.toLocaleString("en-US")} bytes, a ${codeVariant} build that needs a ${expected.toLocaleString("en-US")}-byte vars template). ` +
    `Such a pair boots but silently loses UEFI variable writes; use the vars template of the same build ` +
    `(Debian: OVMF_VARS_4M*.fd with OVMF_CODE_4M*.fd, OVMF_VARS.fd with OVMF_CODE.fd)`
  );
}
