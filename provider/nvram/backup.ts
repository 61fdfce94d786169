import { gunzipSync, gzipSync } from "node:zlib";

/** NVRAM content as kept in the stack state: gzip, then base64. A VARS store is mostly 0xFF and shrinks to a few KiB. */
export function encodeBackup(content: Buffer): string {
  return gzipSync(content, { level: 9 }).toString("base64");
}

export function decodeBackup(text: string): Buffer {
  return gunzipSync(Buffer.from(text, "base64"));
}
