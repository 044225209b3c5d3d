/**
 * Hostile driver input through the real product (control plane, worker
 * threads, addon, memory backend) on the loopback kernel:
 * - a corrupt ring or a chain with no usable status byte stops that queue
 *   (FAILED), the device's other queue keeps serving, the control plane
 *   still answers, and a reset + probe brings the queue back;
 * - a chain with an unusable buffer completes with IOERR, the used length
 *   is what the device wrote, and the queue keeps serving;
 * - malformed requests get the right status and change nothing on disk.
 * Chains are built with test/helpers/hostile-ring.ts (see why there).
 */
import t, { type Test } from 'tap';
import { QueueState } from '../../src/shared/queue-control.js';
import { VDUSE_ACCESS_RO } from '../../src/shared/vduse.js';
import {
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES, VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
} from '../../src/shared/virtio.js';
import { encodeBlkDiscardSegment } from '../../src/shared/layouts/index.js';
import { prng, randomBytes, startLoopback, type Fixture } from '../helpers/loopback-fixture.js';
import { HostileRing, UNMAPPED, queueState, waitFor, type Part } from '../helpers/hostile-ring.js';

const NEXT = VRING_DESC_F_NEXT;
const WRITE = VRING_DESC_F_WRITE;
const INDIRECT = VRING_DESC_F_INDIRECT;
const SECTOR = 512;
/** Hostile chains only ever aim at the first 64 KiB of the disk; verification I/O goes elsewhere. */
const TARGET = 64 * 1024;

/** Builds an unpublished hostile chain on the helper's queue; 'raw' when it stored avail.idx itself. */
type Build = (h: HostileRing) => void | 'raw' | Promise<void | 'raw'>;

/** A write then a read of 4 KiB at `sector` on queue `q`, checked byte for byte. */
async function verifiedIo(t: Test, f: Fixture, q: number, sector: number, seed: number): Promise<void> {
  const data = randomBytes(prng(seed), 4096);
  t.equal((await f.driver.write(q, sector, data)).status, VIRTIO_BLK_S_OK, `queue ${q}: write ok`);
  const c = await f.driver.read(q, sector, data.length);
  t.equal(c.status, VIRTIO_BLK_S_OK, `queue ${q}: read ok`);
  t.equal(Buffer.compare(Buffer.from(c.data), Buffer.from(data)), 0, `queue ${q}: read returns what was written`);
}

/** Parts of a request: a header (readable) and a status byte (writable). */
const hdr = (h: HostileRing, type: number, sector = 0): Part => ({ addr: h.header(type, sector), len: 16 });
const status = (h: HostileRing): Part => ({ addr: h.buffer(1), len: 1, write: true });

/**
 * Runs `build` on queue 0 of a 2-queue device and checks the queue stops:
 * FAILED is reported, queue 1 serves, the control plane answers, the
 * disk is untouched, and reset + probe gives a working queue 0 again.
 */
async function expectStopped(t: Test, f: Fixture, build: Build, seed: number): Promise<void> {
  const h = new HostileRing(f, 0);
  const before = f.disk().slice(0, TARGET);
  if ((await build(h)) !== 'raw') h.ring.publishAvail();
  h.kick();
  await waitFor(() => queueState(f.server, 0) === QueueState.FAILED, 'queue 0 to be FAILED');
  t.equal(queueState(f.server, 0), QueueState.FAILED, 'queue 0 stopped (FAILED)');
  t.equal(queueState(f.server, 1), QueueState.RUNNING, 'queue 1 still running');
  await verifiedIo(t, f, 1, 4096 + (seed % 64) * 8, seed);
  t.type(await f.driver.device.getVqState(0), 'number', 'the control plane still answers (process alive)');
  t.equal(Buffer.compare(Buffer.from(f.disk().slice(0, TARGET)), Buffer.from(before)), 0, 'nothing written to disk');
  await f.driver.reset();
  h.release();
  await f.driver.probe();
  t.equal(queueState(f.server, 0), QueueState.RUNNING, 'queue 0 runs again after reset + probe');
  await verifiedIo(t, f, 0, 2048 + (seed % 64) * 8, seed + 1);
}

const stopCases: Array<[string, Build]> = [
  ['descriptor loop (a -> b -> a)', (h) => {
    const [a, b] = h.reserve(2) as [number, number];
    h.desc(a, { addr: h.header(VIRTIO_BLK_T_IN), len: 16, flags: NEXT, next: b });
    h.desc(b, { addr: h.buffer(512), len: 512, flags: NEXT, next: a }); // readable too: only the loop is wrong
  }],
  ['descriptor self loop', (h) => {
    const [a] = h.reserve(1) as [number];
    h.desc(a, { addr: h.header(VIRTIO_BLK_T_IN), len: 16, flags: NEXT, next: a });
  }],
  ['next index out of range', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_IN), { ...status(h), flags: NEXT, next: h.ring.size }]);
  }],
  ['next index 0xffff', (h) => { h.chain([{ ...hdr(h, VIRTIO_BLK_T_IN), next: 0xffff }, status(h)]); }],
  ['head index out of range (= queue size)', (h) => h.ring.putAvailHead(h.ring.size)],
  ['head index 0xffff', (h) => h.ring.putAvailHead(0xffff)],
  ['avail.idx more than the queue size ahead', (h) => {
    h.ring.setAvailIdx((h.availIdx() + h.ring.size + 1) & 0xffff);
    return 'raw';
  }],
  ['avail.idx moved backwards (wraps to 65535 ahead)', (h) => {
    h.ring.setAvailIdx((h.availIdx() - 1) & 0xffff);
    return 'raw';
  }],
  ['indirect descriptor inside an indirect table', (h) => {
    const inner = h.table([hdr(h, VIRTIO_BLK_T_FLUSH), status(h)]);
    const outer = h.table([{ addr: inner, len: 32, flags: INDIRECT }]);
    h.chain([{ addr: outer, len: 16, flags: INDIRECT }]);
  }],
  ['indirect descriptor with NEXT', (h) => {
    const table = h.table([hdr(h, VIRTIO_BLK_T_FLUSH), status(h)]);
    h.chain([{ addr: table, len: 32, flags: INDIRECT }, status(h)]);
  }],
  ['indirect table of length 0', (h) => {
    h.chain([{ addr: h.table([hdr(h, VIRTIO_BLK_T_FLUSH), status(h)]), len: 0, flags: INDIRECT }]);
  }],
  ['indirect table length not a multiple of 16 (24)', (h) => {
    h.chain([{ addr: h.table([hdr(h, VIRTIO_BLK_T_FLUSH), status(h)]), len: 24, flags: INDIRECT }]);
  }],
  ['readable descriptor after a writable one', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), status(h), { addr: h.buffer(512), len: 512 }]);
  }],
  ['missing status byte: no writable descriptor (a write of 512 bytes)', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: h.buffer(512, 0x5a), len: 512 }]);
  }],
  ['read-only status byte (status descriptor without WRITE)', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_FLUSH), { addr: h.buffer(1), len: 1 }]);
  }],
  ['status byte outside mapped memory (0x7fff_0000_0000)', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_FLUSH), { addr: UNMAPPED, len: 1, write: true }]);
  }],
  ['status byte just past the last region', (h) => {
    h.chain([hdr(h, VIRTIO_BLK_T_FLUSH), { addr: h.mem.base + h.mem.size, len: 1, write: true }]);
  }],
  ['status byte in a mapping without write permission (IOTLB entry read-only)', async (h) => {
    const entries = h.mem.iotlbEntries();
    entries[1]!.perm = VDUSE_ACCESS_RO;
    if (!(await h.device.updateIotlb(entries))) throw new Error('UPDATE_IOTLB refused');
    h.chain([hdr(h, VIRTIO_BLK_T_FLUSH), { addr: h.buffer(1, 0xa5, 1), len: 1, write: true }]);
  }],
];

t.test('a corrupt ring or a chain without a usable status byte stops only that queue', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 }, memory: { regions: 2 } });
  t.teardown(() => f.close());
  let seed = 100;
  for (const [name, build] of stopCases) {
    await t.test(name, async (t) => expectStopped(t, f, build, seed++));
  }
});

t.test('INDIRECT descriptor when VIRTIO_F_INDIRECT_DESC was not negotiated stops the queue', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 }, driver: { indirect: false } });
  t.teardown(() => f.close());
  await expectStopped(t, f, (h) => {
    h.chain([{ addr: h.table([hdr(h, VIRTIO_BLK_T_FLUSH), status(h)]), len: 32, flags: INDIRECT }]);
  }, 7);
});

t.test('chains behind a fatal one in the same batch are not executed', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 } });
  t.teardown(() => f.close());
  const h = new HostileRing(f, 0);
  const before = f.disk().slice(0, TARGET);
  h.chain([hdr(h, VIRTIO_BLK_T_FLUSH), { addr: h.buffer(1), len: 1 }]); // no status byte: the queue stops
  h.chain([hdr(h, VIRTIO_BLK_T_OUT, 16), { addr: h.buffer(4096, 0x5a), len: 4096 }, status(h)]);
  h.publish();
  await waitFor(() => queueState(f.server, 0) === QueueState.FAILED, 'queue 0 to be FAILED');
  await verifiedIo(t, f, 1, 4096, 1); // the device is still working; give any stray write time to land
  t.equal(Buffer.compare(Buffer.from(f.disk().slice(0, TARGET)), Buffer.from(before)), 0,
    'the write queued after the fatal chain did not reach the disk');
  t.equal(await f.driver.device.getVqState(0), 1, 'only the fatal chain was consumed');
});

interface IoerrCase {
  name: string;
  /** Builds the chain; returns the status byte's IOVA, the bytes the device must report and zero. */
  build(h: HostileRing): { statusAt: number; writable: number; zeroed?: Array<[number, number]> };
}

const ioerrCases: IoerrCase[] = [
  { name: 'writable header (header descriptor flagged WRITE) on a read', build: (h) => {
    const head = hdr(h, VIRTIO_BLK_T_IN);
    const data = h.buffer(512);
    const st = status(h);
    h.chain([{ ...head, write: true }, { addr: data, len: 512, write: true }, st]);
    return { statusAt: st.addr as number, writable: 529, zeroed: [[head.addr as number, 16], [data, 512]] };
  } },
  { name: 'zero-length data buffer on a write', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: h.buffer(512, 0x5a), len: 0 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'zero-length data buffer on a read', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_IN), { addr: h.buffer(512), len: 0, write: true }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'oversized buffer: length past the end of guest memory', build: (h) => {
    const st = status(h);
    const data = h.buffer(512, 0x5a);
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: data, len: h.mem.base + h.mem.size - data + 4096 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'data buffer at 0x7fff_0000_0000 (outside every region)', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: UNMAPPED, len: 512 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'data buffer just past the last region', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: h.mem.base + h.mem.size, len: 512 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'data buffer straddling the end of the last region', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_OUT), { addr: h.mem.base + h.mem.size - 256, len: 512 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  { name: 'header outside mapped memory', build: (h) => {
    const st = status(h);
    h.chain([{ addr: UNMAPPED, len: 16 }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
  // The device cannot write an unmapped buffer: it reports the one byte it wrote, the status.
  { name: 'device-writable data buffer outside mapped memory (read)', build: (h) => {
    const st = status(h);
    h.chain([hdr(h, VIRTIO_BLK_T_IN), { addr: UNMAPPED, len: 512, write: true }, st]);
    return { statusAt: st.addr as number, writable: 1 };
  } },
];

t.test('a chain with an unusable buffer completes with IOERR and the queue goes on', async (t) => {
  const f = await startLoopback({ memory: { regions: 2 } });
  t.teardown(() => f.close());
  let seed = 200;
  for (const c of ioerrCases) {
    await t.test(c.name, async (t) => {
      const h = new HostileRing(f, 0);
      const disk = f.disk().slice();
      const { statusAt, writable, zeroed = [] } = c.build(h);
      const from = h.publish();
      const [used] = await h.waitUsed(from);
      t.equal(used!.id, h.lastHead, 'used id is the chain head');
      t.equal(h.byte(statusAt), VIRTIO_BLK_S_IOERR, 'status byte is IOERR');
      t.equal(used!.len, writable, `used len is the ${writable} writable byte(s) the device wrote`);
      for (const [iova, len] of zeroed) t.ok(h.bytes(iova, len).every((b) => b === 0), 'writable data zeroed');
      t.equal(Buffer.compare(Buffer.from(f.disk()), Buffer.from(disk)), 0, 'disk unchanged');
      t.equal(queueState(f.server, 0), QueueState.RUNNING, 'queue still running');
      await verifiedIo(t, f, 0, 1024, seed++);
      h.release();
    });
  }
});

t.test('malformed requests: the right status, nothing written', async (t) => {
  const f = await startLoopback();
  t.teardown(() => f.close());
  const capacity = f.shape.size / SECTOR;
  f.disk().set(randomBytes(prng(3), f.shape.size));
  const seg = (sector: number, n: number, flags = 0): Uint8Array =>
    encodeBlkDiscardSegment({ sector: BigInt(sector), numSectors: n, flags });
  const cases: Array<[string, Parameters<Fixture['driver']['submit']>[1], number]> = [
    ['write at sector == capacity', { type: VIRTIO_BLK_T_OUT, sector: capacity, out: new Uint8Array(512) }, VIRTIO_BLK_S_IOERR],
    ['write straddling the end', { type: VIRTIO_BLK_T_OUT, sector: capacity - 1, out: new Uint8Array(1024) }, VIRTIO_BLK_S_IOERR],
    ['write at sector 2^60', { type: VIRTIO_BLK_T_OUT, sector: 1n << 60n, out: new Uint8Array(512) }, VIRTIO_BLK_S_IOERR],
    ['read past capacity', { type: VIRTIO_BLK_T_IN, sector: capacity, inLength: 512 }, VIRTIO_BLK_S_IOERR],
    ['write of 100 bytes (not a multiple of 512)', { type: VIRTIO_BLK_T_OUT, sector: 8, out: new Uint8Array(100) }, VIRTIO_BLK_S_IOERR],
    ['write of 1000 bytes', { type: VIRTIO_BLK_T_OUT, sector: 8, out: new Uint8Array(1000) }, VIRTIO_BLK_S_IOERR],
    ['read of 100 bytes', { type: VIRTIO_BLK_T_IN, sector: 8, inLength: 100 }, VIRTIO_BLK_S_IOERR],
    ['GET_ID with a 19-byte buffer', { type: VIRTIO_BLK_T_GET_ID, inLength: 19 }, VIRTIO_BLK_S_IOERR],
    ['GET_ID with a 21-byte buffer', { type: VIRTIO_BLK_T_GET_ID, inLength: 21 }, VIRTIO_BLK_S_IOERR],
    ['FLUSH with sector 5', { type: VIRTIO_BLK_T_FLUSH, sector: 5 }, VIRTIO_BLK_S_IOERR],
    ['FLUSH carrying data', { type: VIRTIO_BLK_T_FLUSH, out: new Uint8Array(512) }, VIRTIO_BLK_S_IOERR],
    ['write with device-writable data', { type: VIRTIO_BLK_T_OUT, sector: 8, out: new Uint8Array(512), inLength: 512 }, VIRTIO_BLK_S_IOERR],
    ['unknown request type 0x99', { type: 0x99, sector: 8, out: new Uint8Array(512) }, VIRTIO_BLK_S_UNSUPP],
    ['unknown request type 0x99 with a read buffer', { type: 0x99, inLength: 512 }, VIRTIO_BLK_S_UNSUPP],
    ['discard past capacity', { type: VIRTIO_BLK_T_DISCARD, out: seg(capacity - 1, 2) }, VIRTIO_BLK_S_IOERR],
    ['discard with the UNMAP flag', { type: VIRTIO_BLK_T_DISCARD, out: seg(8, 8, 1) }, VIRTIO_BLK_S_UNSUPP],
    ['write-zeroes with unknown flags', { type: VIRTIO_BLK_T_WRITE_ZEROES, out: seg(8, 8, 2) }, VIRTIO_BLK_S_UNSUPP],
    ['write-zeroes segment of 15 bytes', { type: VIRTIO_BLK_T_WRITE_ZEROES, out: seg(8, 8).subarray(0, 15) }, VIRTIO_BLK_S_IOERR],
  ];
  for (const [name, spec, want] of cases) {
    const disk = f.disk().slice();
    const c = await f.driver.submit(0, spec);
    const inLength = spec.inLength ?? 0;
    t.equal(c.status, want, `${name}: status ${want}`);
    t.equal(c.usedLen, inLength + 1, `${name}: used len covers every writable byte`);
    t.ok(c.data.every((b) => b === 0), `${name}: no disk data (nor stale bytes) handed back`);
    t.equal(Buffer.compare(Buffer.from(f.disk()), Buffer.from(disk)), 0, `${name}: disk unchanged`);
  }
  await verifiedIo(t, f, 0, 64, 9);
});
