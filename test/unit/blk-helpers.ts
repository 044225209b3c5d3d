/** Builders for blk tests: descriptor chains over plain Uint8Arrays, headers, segments, settings. */
import type { DescriptorChain } from '../../src/workers/virtq/chain.js';
import type { BlkDeviceSettings } from '../../src/workers/blk/settings.js';
import { MemoryBackend } from '../../src/workers/backends/memory.js';
import type { BlockBackend } from '../../src/workers/backends/backend.js';

export function chainOf(readable: Uint8Array[], writable: Uint8Array[], fault: string | null = null): DescriptorChain {
  const sum = (views: Uint8Array[]) => views.reduce((n, v) => n + v.length, 0);
  return { head: 7, readable, writable, readableBytes: sum(readable), writableBytes: sum(writable), fault };
}

/** struct virtio_blk_outhdr. */
export function header(type: number, sector: bigint = 0n, reserved = 0): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, reserved, true);
  view.setBigUint64(8, sector, true);
  return bytes;
}

/** struct virtio_blk_discard_write_zeroes, several concatenated. */
export function segments(...segs: Array<[sector: bigint, sectors: number, flags: number]>): Uint8Array {
  const bytes = new Uint8Array(16 * segs.length);
  const view = new DataView(bytes.buffer);
  segs.forEach(([sector, sectors, flags], i) => {
    view.setBigUint64(i * 16, sector, true);
    view.setUint32(i * 16 + 8, sectors, true);
    view.setUint32(i * 16 + 12, flags, true);
  });
  return bytes;
}

export const CAPACITY_SECTORS = 64;

export function settingsWith(overrides: Partial<BlkDeviceSettings> = {}): BlkDeviceSettings {
  return {
    capacitySectors: CAPACITY_SECTORS, readOnly: false, serial: 'vduse-test-0001',
    discard: true, writeZeroes: true, maxDiscardSectors: 32, maxDiscardSeg: 4,
    maxWriteZeroesSectors: 32, maxWriteZeroesSeg: 2, logicalBlockSize: 512, ...overrides,
  };
}

/** A memory disk of `sectors` sectors where byte i holds (i * 7 + 3) & 0xff. */
export function patternedDisk(sectors = CAPACITY_SECTORS): { disk: Uint8Array; backend: MemoryBackend } {
  const buffer = new SharedArrayBuffer(sectors * 512);
  const disk = new Uint8Array(buffer);
  for (let i = 0; i < disk.length; i++) disk[i] = (i * 7 + 3) & 0xff;
  return { disk, backend: new MemoryBackend(buffer) };
}

export function pattern(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 7 + 3) & 0xff;
  return out;
}

/** Guest buffers prefilled with garbage (0xee), as a stale bounce buffer would be. */
export function stale(length: number): Uint8Array {
  return new Uint8Array(length).fill(0xee);
}

export function concat(views: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(views.reduce((n, v) => n + v.length, 0));
  let pos = 0;
  for (const v of views) {
    out.set(v, pos);
    pos += v.length;
  }
  return out;
}

export const S_OK = 0;
export const S_IOERR = 1;
export const S_UNSUPP = 2;

export type BackendCall = [method: string, ...args: unknown[]];

/**
 * Wraps a backend, recording every call (with buffer lengths instead of
 * buffers); `mode` makes it complete asynchronously, or fail.
 */
export function spy(
  inner: BlockBackend, mode: { async?: boolean; fail?: unknown; failAsync?: unknown } = {},
): { backend: BlockBackend; calls: BackendCall[] } {
  const calls: BackendCall[] = [];
  const wrap = (name: string, fn: (...args: never[]) => void | PromiseLike<void>) => (...args: never[]) => {
    calls.push([name, ...args.map((a) => (Array.isArray(a) ? (a as Uint8Array[]).map((b) => b.length) : a))]);
    if (mode.fail !== undefined) throw mode.fail;
    if (mode.failAsync !== undefined) return Promise.reject(mode.failAsync);
    const result = fn(...args);
    return mode.async === true ? Promise.resolve(result).then(() => undefined) : result;
  };
  const backend: BlockBackend = {
    size: inner.size,
    readv: wrap('readv', inner.readv.bind(inner)),
    writev: wrap('writev', inner.writev.bind(inner)),
    flush: wrap('flush', inner.flush.bind(inner)),
    discard: wrap('discard', inner.discard.bind(inner)),
    writeZeroes: wrap('writeZeroes', inner.writeZeroes.bind(inner)),
    close: wrap('close', inner.close.bind(inner)),
  };
  return { backend, calls };
}

/** Byte equality without tap's (slow, for 32 KiB) deep comparison. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
