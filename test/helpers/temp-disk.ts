/** Temporary backing files and the io_uring availability check shared by the file-backend tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, type NativeError } from '../../src/shared/native.js';

/** Whether build/Release/vduse_native.node exists (tests that need the addon skip without it). */
export const hasAddon = fs.existsSync(new URL('../../../build/Release/vduse_native.node', import.meta.url));

/** The part of a tap Test these helpers use. */
export type Tap = { teardown(fn: () => void): void };

/** A temporary file of `size` bytes filled with `fill`, open read-write; removed after the test. */
export function tempDisk(t: Tap, size: number, fill = 0xab): { fd: number; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vduse-blk-disk-'));
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, new Uint8Array(size).fill(fill));
  const fd = fs.openSync(file, 'r+');
  t.teardown(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { fd, file };
}

/** Why io_uring tests cannot run here (no addon, old addon, kernel or seccomp refusal), or null when they can. */
export function ioUringUnavailable(): string | null {
  if (!hasAddon) return 'build/Release/vduse_native.node is not built';
  const n = native();
  if (typeof n.ioUringCreate !== 'function') return 'the addon has no ioUringCreate (rebuild it)';
  try {
    n.ioUringCreate(2).close();
    return null;
  } catch (error) {
    return `io_uring is unavailable on this host (${(error as NativeError).code}: ${(error as Error).message})`;
  }
}
