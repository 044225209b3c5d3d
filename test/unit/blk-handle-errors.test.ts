/** handleChain: every malformed request fails with the right status, writes nothing, and zeroes the guest's buffers. */
import t, { type Test } from 'tap';
import { BLK_NO_STATUS, handleChain } from '../../src/workers/blk/handle-chain.js';
import {
  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES,
} from '../../src/shared/virtio.js';
import {
  S_IOERR, S_OK, S_UNSUPP, chainOf, header, pattern, patternedDisk, sameBytes, segments, settingsWith, spy, stale,
} from './blk-helpers.js';

const settings = settingsWith();
const zeroes = (n: number) => new Uint8Array(n);

/** Runs a chain that must fail with `expected`: writable data zeroed, status last, disk unchanged, backend unused. */
async function expectFailure(
  t: Test, name: string, readable: Uint8Array[], writableData: number, expected: number,
  s = settings,
): Promise<void> {
  const { disk, backend: inner } = patternedDisk();
  const { backend, calls } = spy(inner);
  const data = stale(writableData);
  const status = stale(1);
  const writable = writableData > 0 ? [data, status] : [status];
  t.equal(await handleChain(chainOf(readable, writable), s, backend), writableData + 1, `${name}: len`);
  t.equal(status[0], expected, `${name}: status`);
  t.ok(sameBytes(data, zeroes(writableData)), `${name}: writable data zeroed`);
  t.ok(sameBytes(disk, pattern(0, disk.length)), `${name}: disk unchanged`);
  t.same(calls, [], `${name}: the backend was not called`);
}

t.test('IN errors', async (t) => {
  const hdr = (sector: bigint) => [header(VIRTIO_BLK_T_IN, sector)];
  await expectFailure(t, 'past capacity', hdr(63n), 1024, S_IOERR);
  await expectFailure(t, 'starting at capacity', hdr(64n), 512, S_IOERR);
  await expectFailure(t, 'sector 2^32', hdr(1n << 32n), 512, S_IOERR);
  await expectFailure(t, 'sector 2^44 (2^53 bytes)', hdr(1n << 44n), 512, S_IOERR);
  await expectFailure(t, 'sector 2^44 - 1', hdr((1n << 44n) - 1n), 512, S_IOERR);
  await expectFailure(t, 'sector 2^64 - 1', hdr((1n << 64n) - 1n), 512, S_IOERR);
  await expectFailure(t, 'length not a multiple of 512', hdr(0n), 513, S_IOERR);
  await expectFailure(t, 'length 100', hdr(0n), 100, S_IOERR);
  await expectFailure(t, 'readable data after the header', [...hdr(0n), stale(512)], 512, S_IOERR);
});

t.test('OUT errors write nothing', async (t) => {
  const out = (sector: bigint, n: number) => [header(VIRTIO_BLK_T_OUT, sector), stale(n)];
  await expectFailure(t, 'past capacity', out(63n, 1024), 0, S_IOERR);
  await expectFailure(t, 'huge sector', out((1n << 64n) - 1n, 512), 0, S_IOERR);
  await expectFailure(t, 'length not a multiple of 512', out(0n, 511), 0, S_IOERR);
  await expectFailure(t, 'read-only device', out(0n, 512), 0, S_IOERR, settingsWith({ readOnly: true }));
  await expectFailure(t, 'writable data besides the status', out(0n, 512), 512, S_IOERR);
});

t.test('GET_ID errors', async (t) => {
  const id = [header(VIRTIO_BLK_T_GET_ID)];
  await expectFailure(t, '19 bytes', id, 19, S_IOERR);
  await expectFailure(t, '21 bytes', id, 21, S_IOERR);
  await expectFailure(t, '512 bytes', id, 512, S_IOERR);
  await expectFailure(t, 'readable data', [...id, stale(20)], 20, S_IOERR);
});

t.test('headers that are short or in writable memory', async (t) => {
  const hdr = header(VIRTIO_BLK_T_OUT);
  await expectFailure(t, 'no readable bytes', [], 0, S_IOERR);
  await expectFailure(t, '15 readable bytes', [hdr.subarray(0, 15)], 0, S_IOERR);
  await expectFailure(t, '15 bytes in two views', [hdr.subarray(0, 7), hdr.subarray(7, 15)], 512, S_IOERR);
  const { backend } = patternedDisk();
  const writable = [header(VIRTIO_BLK_T_IN), stale(512), stale(1)];
  t.equal(handleChain(chainOf([], writable), settings, backend), 529, 'header in writable memory');
  t.same(writable[0], zeroes(16), 'the writable "header" is zeroed too');
  t.same(writable[1], zeroes(512));
  t.equal(writable[2]![0], S_IOERR);
});

t.test('unsupported types: UNSUPP, writable data zeroed', async (t) => {
  // GET_LIFETIME, SCSI_CMD, SCSI_CMD_OUT, FLUSH_OUT, SECURE_ERASE, zone ops, BARRIER flag, garbage.
  for (const type of [10, 2, 3, 5, 14, 15, 16, 18, 20, 22, 24, 26, 0x80000000, 0x80000001, 0xffffffff, 7]) {
    await expectFailure(t, `type ${type}`, [header(type)], 6, S_UNSUPP);
    await expectFailure(t, `type ${type} with readable data`, [header(type), segments([0n, 1, 0])], 0, S_UNSUPP);
  }
});

t.test('read-only device: discard and write-zeroes fail with IOERR, reads work', async (t) => {
  const ro = settingsWith({ readOnly: true });
  await expectFailure(t, 'discard', [header(VIRTIO_BLK_T_DISCARD), segments([0n, 1, 0])], 0, S_IOERR, ro);
  await expectFailure(t, 'write zeroes', [header(VIRTIO_BLK_T_WRITE_ZEROES), segments([0n, 1, 0])], 0, S_IOERR, ro);
  const { backend } = patternedDisk();
  const data = stale(512);
  const status = stale(1);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_IN, 1n)], [data, status]), ro, backend), 513);
  t.equal(status[0], S_OK);
  t.same(data, pattern(512, 512));
});

t.test('no writable byte: BLK_NO_STATUS (-1), nothing touched', async (t) => {
  t.equal(BLK_NO_STATUS, -1);
  const { disk, backend: inner } = patternedDisk();
  const { backend, calls } = spy(inner);
  const out = [header(VIRTIO_BLK_T_OUT), new Uint8Array(512)];
  t.equal(handleChain(chainOf(out, []), settings, backend), -1, 'OUT without a status byte');
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_IN)], []), settings, backend), -1, 'IN without buffers');
  t.equal(handleChain(chainOf([], [], 'unmapped'), settings, backend), -1, 'fault with no status view');
  t.same(calls, []);
  t.ok(sameBytes(disk, pattern(0, disk.length)));
});

t.test('a faulted chain: IOERR in its one writable view', async (t) => {
  const { backend: inner } = patternedDisk();
  const { backend, calls } = spy(inner);
  const status = stale(1);
  t.equal(handleChain(chainOf([], [status], 'address not mapped'), settings, backend), 1);
  t.equal(status[0], S_IOERR);
  const tail = stale(4);
  t.equal(handleChain(chainOf([], [tail], 'too long'), settings, backend), 4);
  t.same(tail, Uint8Array.from([0, 0, 0, S_IOERR]));
  t.same(calls, []);
});

t.test('backend failures become statuses; nothing throws or rejects', async (t) => {
  const eio = Object.assign(new Error('disk on fire'), { code: 'EIO' });
  const unsupported = Object.assign(new Error('no'), { code: 'EOPNOTSUPP' });
  const cases: Array<[string, object, number]> = [
    ['sync throw', { fail: eio }, S_IOERR],
    ['async reject', { failAsync: eio }, S_IOERR],
    ['non-Error throw', { fail: 'string' }, S_IOERR],
    ['EOPNOTSUPP', { failAsync: unsupported }, S_UNSUPP],
  ];
  for (const [name, mode, expected] of cases) {
    const { backend } = spy(patternedDisk().backend, mode);
    const data = stale(512);
    const status = stale(1);
    t.equal(await handleChain(chainOf([header(VIRTIO_BLK_T_IN)], [data, status]), settings, backend), 513, name);
    t.equal(status[0], expected, `${name}: status`);
    t.same(data, zeroes(512), `${name}: IN data zeroed after the failure`);
    const segStatus = stale(1);
    const discard = chainOf([header(VIRTIO_BLK_T_DISCARD), segments([0n, 1, 0])], [segStatus]);
    t.equal(await handleChain(discard, settings, backend), 1);
    t.equal(segStatus[0], expected, `${name}: discard status`);
  }
});
