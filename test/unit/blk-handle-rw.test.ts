/** handleChain: IN, OUT, FLUSH, GET_ID end to end over a memory disk, in every framing. */
import t from 'tap';
import { handleChain } from '../../src/workers/blk/handle-chain.js';
import {
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
} from '../../src/shared/virtio.js';
import { S_IOERR, S_OK, chainOf, concat, header, pattern, patternedDisk, settingsWith, spy, stale } from './blk-helpers.js';

const settings = settingsWith();

t.test('IN fills every data view from the disk, then the status; len counts every writable byte', async (t) => {
  const { backend } = patternedDisk();
  const data = [stale(512), stale(1024)];
  const status = stale(1);
  const len = handleChain(chainOf([header(VIRTIO_BLK_T_IN, 3n)], [...data, status]), settings, backend);
  t.equal(len, 1537, 'synchronous with a synchronous backend');
  t.same(concat(data), pattern(3 * 512, 1536));
  t.equal(status[0], S_OK);
});

t.test('IN up to the last sector, and IN of zero sectors at capacity', async (t) => {
  const { backend } = patternedDisk();
  const data = stale(512);
  const status = stale(1);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_IN, 63n)], [data, status]), settings, backend), 513);
  t.same(data, pattern(63 * 512, 512));
  t.equal(status[0], S_OK);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_IN, 64n)], [status]), settings, backend), 1);
  t.equal(status[0], S_OK);
});

t.test('OUT writes the readable data after the header; len is 1', async (t) => {
  const { disk, backend } = patternedDisk();
  const a = new Uint8Array(512).fill(0x11);
  const b = new Uint8Array(1024).fill(0x22);
  const status = stale(1);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_OUT, 10n), a, b], [status]), settings, backend), 1);
  t.equal(status[0], S_OK);
  t.same(disk.subarray(10 * 512, 13 * 512), concat([a, b]));
  t.same(disk.subarray(0, 10 * 512), pattern(0, 10 * 512), 'before: untouched');
  t.same(disk.subarray(13 * 512), pattern(13 * 512, 51 * 512), 'after: untouched');
});

t.test('the reserved (ioprio) field is ignored', async (t) => {
  const { disk, backend } = patternedDisk();
  const status = stale(1);
  const data = new Uint8Array(512).fill(0x5a);
  handleChain(chainOf([header(VIRTIO_BLK_T_OUT, 1n, 0xffffffff), data], [status]), settings, backend);
  t.equal(status[0], S_OK);
  t.same(disk.subarray(512, 1024), data);
});

t.test('odd framings: split header, header+data in one view, data+status in one view', async (t) => {
  const { disk, backend } = patternedDisk();
  const out = concat([header(VIRTIO_BLK_T_OUT, 2n), new Uint8Array(1024).fill(0x33)]);
  const cuts: Array<[string, Uint8Array[]]> = [
    ['header+data in one view', [out]],
    ['header split in two', [out.subarray(0, 8), out.subarray(8, 16), out.subarray(16)]],
    ['header split into data', [out.subarray(0, 5), out.subarray(5, 600), out.subarray(600)]],
    ['one byte views around the header', [...[...out.subarray(0, 17)].map((_, i) => out.subarray(i, i + 1)), out.subarray(17)]],
  ];
  for (const [name, readable] of cuts) {
    disk.set(pattern(1024, 1024), 1024);
    const status = stale(1);
    t.equal(handleChain(chainOf(readable, [status]), settings, backend), 1, name);
    t.equal(status[0], S_OK, name);
    t.same(disk.subarray(1024, 2048), new Uint8Array(1024).fill(0x33), name);
  }
  const inHeader = header(VIRTIO_BLK_T_IN, 5n);
  const dataAndStatus = stale(1025);
  t.equal(handleChain(chainOf([inHeader.subarray(0, 3), inHeader.subarray(3)], [dataAndStatus]), settings, backend), 1025);
  t.same(dataAndStatus.subarray(0, 1024), pattern(5 * 512, 1024), 'data+status in one view: data');
  t.equal(dataAndStatus[1024], S_OK, 'data+status in one view: status is the last byte');
  const pieces = stale(1025);
  const views = [pieces.subarray(0, 300), pieces.subarray(300, 1000), pieces.subarray(1000)];
  t.equal(handleChain(chainOf([inHeader], views), settings, backend), 1025);
  t.same(pieces.subarray(0, 1024), pattern(5 * 512, 1024), 'views not on sector boundaries');
  t.equal(pieces[1024], S_OK);
});

t.test('FLUSH reaches the backend and needs sector 0', async (t) => {
  const { backend: inner } = patternedDisk();
  const { backend, calls } = spy(inner);
  const status = stale(1);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_FLUSH)], [status]), settings, backend), 1);
  t.equal(status[0], S_OK);
  t.same(calls, [['flush']]);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_FLUSH, 1n)], [status]), settings, backend), 1);
  t.equal(status[0], S_IOERR, 'non-zero sector');
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_FLUSH), stale(512)], [status]), settings, backend), 1);
  t.equal(status[0], S_IOERR, 'data with a flush');
  t.equal(calls.length, 1, 'the bad flushes never reached the backend');
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_FLUSH)], [status]), settingsWith({ readOnly: true }), backend), 1);
  t.equal(status[0], S_OK, 'a read-only device flushes');
});

t.test('GET_ID: NUL-padded serial, 20 bytes, no terminator when full', async (t) => {
  const { backend } = patternedDisk();
  const ascii = (s: string) => Uint8Array.from(s.padEnd(20, '\0'), (c) => c.charCodeAt(0));
  for (const serial of ['', 'vduse-test-0001', '01234567890123456789', '0123456789012345678901234']) {
    const id = stale(20);
    const status = stale(1);
    const len = handleChain(chainOf([header(VIRTIO_BLK_T_GET_ID)], [id, status]), settingsWith({ serial }), backend);
    t.equal(len, 21);
    t.equal(status[0], S_OK);
    t.same(id, ascii(serial.slice(0, 20)), JSON.stringify(serial));
  }
  const split = stale(21);
  handleChain(chainOf([header(VIRTIO_BLK_T_GET_ID)], [split.subarray(0, 7), split.subarray(7)]), settings, backend);
  t.same(split.subarray(0, 20), ascii('vduse-test-0001'), 'split id buffer, status in the same view');
  t.equal(split[20], S_OK);
});

t.test('an asynchronous backend: a promise of len, the status written only at completion', async (t) => {
  const { disk, backend: inner } = patternedDisk();
  const { backend } = spy(inner, { async: true });
  const data = stale(512);
  const status = stale(1);
  const pending = handleChain(chainOf([header(VIRTIO_BLK_T_IN, 7n)], [data, status]), settings, backend);
  t.type(pending, Promise);
  t.equal(status[0], 0xee, 'no status before the backend completes');
  t.equal(await pending, 513);
  t.same(data, pattern(7 * 512, 512));
  t.equal(status[0], S_OK);
  const write = new Uint8Array(512).fill(0x44);
  t.equal(await handleChain(chainOf([header(VIRTIO_BLK_T_OUT, 8n), write], [status]), settings, backend), 1);
  t.same(disk.subarray(8 * 512, 9 * 512), write);
  t.equal(await handleChain(chainOf([header(VIRTIO_BLK_T_FLUSH)], [status]), settings, backend), 1);
  t.equal(status[0], S_OK);
});
