/**
 * A device queue and a mock driver over the same test memory, plus a bump
 * allocator for data buffers. Rings sit at BASE; data from DATA on.
 */
import { DriverRing } from '../../src/loopback/driver-ring.js';
import type { Segment } from '../../src/loopback/driver-ring.js';
import { vringLayout } from '../../src/loopback/vring-layout.js';
import type { VringLayout } from '../../src/loopback/vring-layout.js';
import { SplitQueue } from '../../src/workers/virtq/split-queue.js';
import { TestGuestMemory } from './virtq-memory.js';
import type { TestMemoryOptions } from './virtq-memory.js';

export const BASE = 0x10_0000;
export const DATA = BASE + 0x4_0000;
export const MEMORY_SIZE = 0x10_0000;

export interface PairOptions extends TestMemoryOptions {
  readonly size?: number;
  readonly eventIdx?: boolean;
  readonly indirect?: boolean;
  readonly initialIdx?: number;
  readonly maxChainBytes?: number;
}

export interface QueuePair {
  readonly mem: TestGuestMemory;
  readonly layout: VringLayout;
  readonly driver: DriverRing;
  readonly queue: SplitQueue;
  /** A fresh data buffer of `len` bytes (16-byte aligned), optionally filled. */
  alloc(len: number, fill?: number): number;
  /** The bytes at [iova, iova + len), as the driver sees them. */
  bytesAt(iova: number, len: number): Uint8Array;
}

export function makePair(options: PairOptions = {}): QueuePair {
  const size = options.size ?? 16;
  const mem = new TestGuestMemory(new Uint8Array(MEMORY_SIZE), BASE, options);
  const layout = vringLayout(BASE, size);
  const eventIdx = options.eventIdx ?? false;
  const driverOptions = { eventIdx, initialIdx: options.initialIdx ?? 0 };
  const driver = new DriverRing(mem.driver, layout, driverOptions);
  const queue = new SplitQueue(mem, {
    ...layout,
    eventIdx,
    indirect: options.indirect ?? false,
    ...(options.maxChainBytes === undefined ? {} : { maxChainBytes: options.maxChainBytes }),
  });
  queue.lastAvailIdx = options.initialIdx ?? 0;
  let next = DATA;
  const bytesAt = (iova: number, len: number): Uint8Array => mem.bytes.subarray(iova - BASE, iova - BASE + len);
  const alloc = (len: number, fill = 0): number => {
    const iova = next;
    next += Math.ceil(Math.max(len, 1) / 16) * 16;
    bytesAt(iova, len).fill(fill);
    return iova;
  };
  return { mem, layout, driver, queue, alloc, bytesAt };
}

/** A virtio-blk shaped request: 16-byte header, data, 1-byte status. */
export function blkSegments(pair: QueuePair, dataLen: number, dataWrite: boolean): Segment[] {
  const header = pair.alloc(16, 0xaa);
  const data = pair.alloc(dataLen, 0xbb);
  const status = pair.alloc(1, 0xff);
  return [
    { iova: header, len: 16, write: false },
    { iova: data, len: dataLen, write: dataWrite },
    { iova: status, len: 1, write: true },
  ];
}
