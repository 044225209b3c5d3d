/** Temporary backing files and the io_uring availability check shared by the file-backend tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Test } from 'tap';
import { native, type NativeError } from '../../src/shared/native.js';

/** Whether build/Release/vduse_native.node exists (tests that need the addon skip without it). */
export const hasAddon = fs.existsSync(new URL('../../../build/Release/vduse_native.node', import.meta.url));

/** The part of a tap Test these helpers use. */
export type Tap = { teardown(fn: () => void): void };

/** `length` bytes of `fd` at `offset`, read with plain fs (not through the backend under test). */
export function readBack(fd: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  fs.readSync(fd, out, 0, length, offset);
  return out;
}

type VectoredBackend = {
  writev(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void>;
  readv(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void>;
};

/**
 * The contract every file backend shares: a writev of views of odd sizes at
 * an offset lands in the file in order, a readv split differently reads it
 * back, and the bytes around it (the tempDisk fill, 0xab) stay untouched.
 */
export async function vectoredRoundTrip(t: Test, backend: VectoredBackend, fd: number): Promise<void> {
  const views = [new Uint8Array(512).fill(1), new Uint8Array(3584).fill(2), new Uint8Array(100).fill(3), new Uint8Array(412).fill(4)];
  await backend.writev(8192, views);
  const expected = Buffer.concat(views);
  t.same(readBack(fd, 8192, 4608), new Uint8Array(expected));
  const into = [new Uint8Array(1000), new Uint8Array(3000), new Uint8Array(608)];
  await backend.readv(8192, into);
  t.same(new Uint8Array(Buffer.concat(into)), new Uint8Array(expected));
  t.equal(readBack(fd, 8191, 1)[0], 0xab, 'the byte before is untouched');
  t.equal(readBack(fd, 8192 + 4608, 1)[0], 0xab, 'the byte after is untouched');
}

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
