import { guidBytes } from "../../provider/nvram/varstore-write.js";

/**
 * An empty authenticated edk2 variable store with `room` bytes for variables, and `trailer` bytes
 * of 0x5a after the store (where OVMF keeps its fault-tolerant write areas).
 */
export function emptyStore(room: number, trailer = 0): Buffer {
  const fv = Buffer.alloc(0x48);
  fv.write("_FVH", 0x28, "latin1");
  fv.writeUInt16LE(0x48, 0x30);
  const header = Buffer.alloc(28);
  guidBytes("aaf32c78-947b-439a-a180-2e144ec37792").copy(header, 0);
  header.writeUInt32LE(28 + room, 16);
  return Buffer.concat([fv, header, Buffer.alloc(room, 0xff), Buffer.alloc(trailer, 0x5a)]);
}
