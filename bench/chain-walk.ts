/**
 * The device's per-request CPU cost on one thread, with no driver thread,
 * no kicks and no IRQs beside it: pop a chain from the avail ring, parse
 * and run the virtio-blk request on the null backend (or a RAM disk), add
 * the used element, publish once per ring's worth. The guest memory is a
 * memfd mapped through the real IovaMap, and every chain is laid out as
 * Linux virtio_blk lays out a read (an indirect table: header, data in 4 KiB
 * pages, status byte). Cross-thread benchmarks on this 2-core host drift by
 * 2x within minutes; this isolates the code path so A/B builds can be
 * compared in alternating runs.
 *
 * Usage: node dist/bench/chain-walk.js [--bs BYTES] [--seconds S] [--memory]
 * Prints: ns per request (and requests per second of one core).
 */
import { parseArgs } from 'node:util';
import { native } from '../src/shared/native.js';
import { IovaMap } from '../src/workers/iova-map.js';
import { SplitQueue } from '../src/workers/virtq/split-queue.js';
import { handleChainThen } from '../src/workers/blk/handle-chain.js';
import { MemoryBackend } from '../src/workers/backends/memory.js';
import { createBackend as createNullBackend } from './null-backend.js';
import type { BlockBackend } from '../src/workers/backends/backend.js';
import type { BlkDeviceSettings } from '../src/workers/blk/settings.js';
import { VDUSE_ACCESS_RW } from '../src/shared/vduse.js';
import { RingMemory } from '../src/loopback/ring-memory.js';
import {
  VIRTIO_BLK_T_IN, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_SIZE,
} from '../src/shared/virtio.js';

const { values } = parseArgs({ options: {
  bs: { type: 'string', default: '4096' },
  seconds: { type: 'string', default: '2' },
  /** A 256 MiB RAM disk (random 4 KiB-aligned offsets) instead of the null backend. */
  memory: { type: 'boolean' },
} });
const BS = Number(values.bs);
const SECONDS = Number(values.seconds);
if (!(BS >= 4096 && BS % 4096 === 0 && BS <= 1 << 20)) throw new Error(`--bs ${values.bs}: a multiple of 4096 up to 1 MiB`);
if (!(SECONDS > 0)) throw new Error(`--seconds ${values.seconds}: a positive number`);

const QUEUE = 256;
const PAGES = BS / 4096;
// Guest memory layout (IOVA = memfd offset).
const DESC = 0;
const AVAIL = 16 << 10;
const USED = 32 << 10;
const TABLES = 64 << 10; // one indirect table per head
const TABLE_STRIDE = (PAGES + 2) * VRING_DESC_SIZE;
const HEADERS = TABLES + QUEUE * TABLE_STRIDE;
const STATUS = HEADERS + QUEUE * 16;
const DATA = Math.ceil((STATUS + QUEUE) / 4096) * 4096;
const GUEST_BYTES = DATA + QUEUE * BS;

const n = native();
const memfd = n.memfdCreate('chain-walk', 0);
n.ftruncate(memfd, GUEST_BYTES);
const { PROT_READ, PROT_WRITE, MAP_SHARED } = n.constants;
// The driver's side of the same memory (IOVA 0 at byte 0).
const driver = new RingMemory({ bytes: new Uint8Array(n.mmap(memfd, 0, GUEST_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED)), base: 0 });
const guest = driver.view;

function descriptor(at: number, addr: number, len: number, flags: number, next: number): void {
  driver.writeDescriptor(at, { addr, len, flags, next });
}

for (let head = 0; head < QUEUE; head++) {
  const table = TABLES + head * TABLE_STRIDE;
  descriptor(DESC + head * VRING_DESC_SIZE, table, TABLE_STRIDE, VRING_DESC_F_INDIRECT, 0);
  descriptor(table, HEADERS + head * 16, 16, VRING_DESC_F_NEXT, 1);
  for (let p = 0; p < PAGES; p++) {
    descriptor(table + (1 + p) * VRING_DESC_SIZE, DATA + head * BS + p * 4096, 4096,
      VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2 + p);
  }
  descriptor(table + (1 + PAGES) * VRING_DESC_SIZE, STATUS + head, 1, VRING_DESC_F_WRITE, 0);
  guest.setUint32(HEADERS + head * 16, VIRTIO_BLK_T_IN, true);
  guest.setUint16(AVAIL + 4 + 2 * head, head, true);
}

const DISK = 256 << 20;
let diskFd = -1;
let backend: BlockBackend;
if (values.memory) {
  diskFd = n.memfdCreate('chain-walk-disk', 0);
  n.ftruncate(diskFd, DISK);
  backend = MemoryBackend.mapFd(diskFd, DISK);
  new Uint8Array(n.mmap(diskFd, 0, DISK, PROT_READ | PROT_WRITE, MAP_SHARED)).fill(0x5a); // no zero-page reads
} else {
  backend = createNullBackend({ size: DISK });
}
const settings: BlkDeviceSettings = {
  capacitySectors: DISK / 512, readOnly: false, serial: 'chain-walk', discard: false, writeZeroes: false,
  maxDiscardSectors: 0, maxDiscardSeg: 0, maxWriteZeroesSectors: 0, maxWriteZeroesSeg: 0, logicalBlockSize: 512,
};

const memory = new IovaMap({
  iotlbGetFd: () => ({ fd: n.dup(memfd), offset: 0, start: 0, last: GUEST_BYTES - 1, perm: VDUSE_ACCESS_RW }),
  injectIrq: () => {},
});
const queue = new SplitQueue(memory, {
  size: QUEUE, descAddr: DESC, driverAddr: AVAIL, deviceAddr: USED, eventIdx: true, indirect: true,
});
let seed = 1;
const blocks = DISK / BS;

function setSectors(): void {
  for (let head = 0; head < QUEUE; head++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    guest.setUint32(HEADERS + head * 16 + 8, (seed % blocks) * (BS / 512), true);
  }
}

function lap(): void {
  setSectors();
  driver.store16(AVAIL + 2, driver.load16(AVAIL + 2) + QUEUE);
  for (let chain = queue.popChain(); chain !== null; chain = queue.popChain()) {
    const len = handleChainThen(chain, settings, backend, () => { throw new Error('backend went asynchronous'); });
    if (len !== 1 + BS) throw new Error(`request ${chain.head}: used len ${len}`);
    queue.addUsed(chain.head, len);
    if (queue.pendingUsed === QUEUE) queue.publishUsed();
  }
  queue.publishUsed();
}

// Warm up (JIT tiers), then count laps until the time is up.
const warmEnd = performance.now() + 300;
while (performance.now() < warmEnd) lap();
let laps = 0;
const start = performance.now();
const end = start + SECONDS * 1000;
while (performance.now() < end) {
  lap();
  laps++;
}
const elapsedMs = performance.now() - start;
// The sector setup is harness cost: measured alone and taken off.
const setupStart = performance.now();
for (let i = 0; i < laps; i++) setSectors();
const setupNs = (performance.now() - setupStart) * 1e6;
const ns = (elapsedMs * 1e6 - setupNs) / (laps * QUEUE);
for (let head = 0; head < QUEUE; head++) {
  if (guest.getUint8(STATUS + head) !== 0) throw new Error(`request ${head}: status ${guest.getUint8(STATUS + head)}`);
}
console.log(`${values.memory ? 'memory' : 'null'} ${BS} B reads: ${ns.toFixed(0)} ns per request ` +
  `(${Math.round(1e9 / ns).toLocaleString('en-US')} per second of one core), ${laps * QUEUE} requests`);
backend.close();
memory.clear();
n.close(memfd);
if (diskFd >= 0) n.close(diskFd);
