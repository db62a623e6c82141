// A minimal newc ("070701") cpio writer: the overlay archive guest.ts appends to a guest image's
// initramfs. The kernel unpacks concatenated archives in order, later entries replacing earlier ones
// (init/initramfs.c unpack_to_rootfs(), do_name() -> clean_path()); a new archive must start on a
// 4-byte boundary, zero bytes between archives are skipped.

export interface CpioEntry {
  /** path without the leading slash */
  path: string;
  /** full mode, type bits included (0o100755 file, 0o040755 directory) */
  mode: number;
  data?: Buffer;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function entry(ino: number, path: string, mode: number, data: Buffer): Buffer {
  const name = Buffer.from(path + '\0');
  const header = '070701' + [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length, 0].map(hex8).join('');
  return Buffer.concat([
    Buffer.from(header), name, Buffer.alloc(pad4(110 + name.length)),
    data, Buffer.alloc(pad4(data.length)),
  ]);
}

export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    if (e.path.startsWith('/') || e.path.includes('\0')) throw new Error(`cpio: bad path "${e.path}"`);
    parts.push(entry(i + 1, e.path, e.mode, e.data ?? Buffer.alloc(0)));
  });
  parts.push(entry(0, 'TRAILER!!!', 0, Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** `base` followed by `overlay`, zero-padded so that the overlay starts on a 4-byte boundary. */
export function appendArchive(base: Buffer, overlay: Buffer): Buffer {
  return Buffer.concat([base, Buffer.alloc(pad4(base.length)), overlay]);
}
