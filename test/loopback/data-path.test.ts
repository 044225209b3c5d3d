/**
 * The whole data path against the loopback kernel: random reads, writes,
 * flushes, discards and write-zeroes from several queues at once, across
 * reset and re-probe cycles, every byte checked against a model of the disk.
 */
import t from 'tap';
import { VIRTIO_BLK_S_OK } from '../../src/shared/virtio.js';
import { prng, randomBytes, startLoopback, type BackendKind } from '../helpers/loopback-fixture.js';

const SLOT = 64 * 1024;
const SECTOR = 512;

interface Variant {
  backend: BackendKind;
  indirect: boolean;
  eventIdx: boolean;
  queues: number;
  /** VDUSE_BLK_IO for the file backend (default: auto, i.e. io_uring on the temp dir's disk). */
  io?: 'sync' | 'threads';
}

const variants: Variant[] = [
  { backend: 'memory', indirect: true, eventIdx: true, queues: 4 },
  { backend: 'file', indirect: true, eventIdx: true, queues: 4 },
  { backend: 'sab', indirect: false, eventIdx: false, queues: 2 },
  { backend: 'file', indirect: false, eventIdx: true, queues: 2 },
  { backend: 'file', io: 'sync', indirect: true, eventIdx: false, queues: 2 },
  { backend: 'file', io: 'threads', indirect: true, eventIdx: true, queues: 2 },
];

for (const v of variants) {
  t.test(`random I/O: ${v.backend} backend${v.io ? ` (${v.io})` : ''}, ${v.queues} queues, indirect=${v.indirect}, event_idx=${v.eventIdx}`,
    async (t) => {
      // Queue workers take a copy of the environment when they start (again at each probe).
      const savedIo = process.env['VDUSE_BLK_IO'];
      if (v.io !== undefined) process.env['VDUSE_BLK_IO'] = v.io;
      t.teardown(() => {
        if (savedIo === undefined) delete process.env['VDUSE_BLK_IO'];
        else process.env['VDUSE_BLK_IO'] = savedIo;
      });
      const f = await startLoopback({
        backend: v.backend,
        shape: { queues: v.queues, size: 4 << 20 },
        driver: { indirect: v.indirect, eventIdx: v.eventIdx, segmentSize: 4096 },
        memory: { regions: 3 },
      });
      t.teardown(() => f.close());
      const model = new Uint8Array(f.shape.size);
      const rand = prng(0x5eed + v.queues);
      const slots = f.shape.size / SLOT;
      let ops = 0;
      for (let cycle = 0; cycle < 3; cycle++) {
        for (let batch = 0; batch < 12; batch++) {
          // Distinct slots per batch, so concurrent requests never overlap.
          const order = [...Array(slots).keys()].sort(() => rand() - 0.5).slice(0, 16);
          await Promise.all(order.map(async (slot, i) => {
            const q = i % f.driver.queueCount;
            const sectors = 1 + ((rand() * (SLOT / SECTOR)) | 0);
            const first = slot * (SLOT / SECTOR) + ((rand() * (SLOT / SECTOR - sectors + 1)) | 0);
            const at = first * SECTOR;
            const len = sectors * SECTOR;
            const op = rand();
            ops++;
            if (op < 0.4) {
              const data = randomBytes(rand, len);
              const c = await f.driver.write(q, first, data);
              t.equal(c.status, VIRTIO_BLK_S_OK, 'write ok');
              model.set(data, at);
            } else if (op < 0.75) {
              const c = await f.driver.read(q, first, len);
              t.equal(c.status, VIRTIO_BLK_S_OK, 'read ok');
              t.equal(c.usedLen, len + 1, 'used len covers data and status');
              if (Buffer.compare(Buffer.from(c.data), Buffer.from(model.subarray(at, at + len))) !== 0) {
                t.fail(`read of sector ${first} (+${sectors}) on queue ${q} differs from the model`);
              }
            } else if (op < 0.85) {
              const c = await f.driver.discard(q, [[first, sectors]]);
              t.equal(c.status, VIRTIO_BLK_S_OK, 'discard ok');
              model.fill(0, at, at + len);
            } else if (op < 0.95) {
              const c = await f.driver.writeZeroes(q, [[first, sectors]], rand() < 0.5);
              t.equal(c.status, VIRTIO_BLK_S_OK, 'write-zeroes ok');
              model.fill(0, at, at + len);
            } else {
              t.equal((await f.driver.flush(q)).status, VIRTIO_BLK_S_OK, 'flush ok');
            }
          }));
        }
        t.same(Buffer.compare(Buffer.from(f.disk()), Buffer.from(model)), 0, `disk matches the model after cycle ${cycle}`);
        // Reset and probe again: the workers stop, mappings go, a fresh set starts.
        await f.driver.reset();
        await f.driver.probe();
      }
      // The workers of the last probe say how they do I/O once they have started.
      for (let i = 0; i < 500 && v.io !== undefined && f.server.stats().some((q) => q.io === undefined); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const stats = f.server.stats();
      t.equal(stats.length, f.driver.queueCount, 'one worker per queue after re-probe');
      if (v.io !== undefined) t.same(stats.map((q) => q.io), stats.map(() => v.io), `every queue did its I/O with ${v.io}`);
      else if (v.backend === 'memory') t.ok(stats.every((q) => q.io === undefined), 'no io for a memory backend');
      t.ok(ops > 500, `ran ${ops} requests`);
    });
}
