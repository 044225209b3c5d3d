/** parseRequest and executeRequest on their own: the request objects, zero-copy data, the error mapping. */
import t from 'tap';
import { parseRequest } from '../../src/workers/blk/request.js';
import { executeRequest, statusForError } from '../../src/workers/blk/execute.js';
import {
  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from '../../src/shared/virtio.js';
import {
  CAPACITY_SECTORS, S_IOERR, S_OK, S_UNSUPP, chainOf, header, patternedDisk, segments, settingsWith, spy, stale,
} from './blk-helpers.js';

const settings = settingsWith();

t.test('IN: byte offset and the data views, which are the guest views themselves', async (t) => {
  const data = [stale(512), stale(512)];
  const request = parseRequest(chainOf([header(VIRTIO_BLK_T_IN, 9n)], [...data, stale(1)]), settings);
  t.same(request, { type: VIRTIO_BLK_T_IN, offset: 9 * 512, data });
  t.equal(typeof request === 'object' && 'data' in request && request.data[0], data[0], 'no copy');
});

t.test('OUT: data after the header, cut out of a merged view without copying', async (t) => {
  const merged = new Uint8Array(16 + 1024);
  merged.set(header(VIRTIO_BLK_T_OUT, 2n));
  const request = parseRequest(chainOf([merged], [stale(1)]), settings);
  if (typeof request !== 'object' || request.type !== VIRTIO_BLK_T_OUT) throw new Error('not an OUT request');
  t.equal(request.offset, 1024);
  t.equal(request.data.length, 1);
  t.equal(request.data[0]!.buffer, merged.buffer);
  t.equal(request.data[0]!.byteOffset, 16);
  t.equal(request.data[0]!.length, 1024);
});

t.test('the largest in-capacity sector, and the first past it', async (t) => {
  const at = (sector: bigint) => parseRequest(chainOf([header(VIRTIO_BLK_T_IN, sector)], [stale(512), stale(1)]), settings);
  t.match(at(BigInt(CAPACITY_SECTORS - 1)), { offset: (CAPACITY_SECTORS - 1) * 512 });
  t.equal(at(BigInt(CAPACITY_SECTORS)), S_IOERR);
  const big = settingsWith({ capacitySectors: 2 ** 40 });
  const far = parseRequest(chainOf([header(VIRTIO_BLK_T_IN, (1n << 40n) - 1n)], [stale(512), stale(1)]), big);
  t.match(far, { offset: 2 ** 49 - 512 }, 'sectors above 2^32 are exact');
});

t.test('FLUSH, GET_ID and segment requests', async (t) => {
  t.same(parseRequest(chainOf([header(VIRTIO_BLK_T_FLUSH)], [stale(1)]), settings), { type: VIRTIO_BLK_T_FLUSH });
  const id = stale(20);
  t.same(parseRequest(chainOf([header(VIRTIO_BLK_T_GET_ID, 77n)], [id, stale(1)]), settings),
    { type: VIRTIO_BLK_T_GET_ID, data: [id], serial: 'vduse-test-0001' }, 'the sector of GET_ID is ignored');
  const segs = segments([4n, 2, 0], [8n, 0, 0], [10n, 1, 1]);
  t.same(parseRequest(chainOf([header(VIRTIO_BLK_T_WRITE_ZEROES), segs.subarray(0, 32)], [stale(1)]), settings), {
    type: VIRTIO_BLK_T_WRITE_ZEROES, segments: [{ offset: 2048, length: 1024, unmap: false }],
  }, 'zero-sector segments are dropped');
  t.equal(parseRequest(chainOf([header(VIRTIO_BLK_T_WRITE_ZEROES), segs], [stale(1)]), settings), S_IOERR,
    'three segments, max two');
  t.same(parseRequest(chainOf([header(VIRTIO_BLK_T_DISCARD), segs.subarray(0, 16)], [stale(1)]), settings), {
    type: VIRTIO_BLK_T_DISCARD, segments: [{ offset: 2048, length: 1024, unmap: false }],
  });
});

t.test('a faulted or status-less chain parses to IOERR', async (t) => {
  t.equal(parseRequest(chainOf([], [stale(1)], 'fault'), settings), S_IOERR);
  t.equal(parseRequest(chainOf([header(VIRTIO_BLK_T_FLUSH)], []), settings), S_IOERR);
});

t.test('statusForError: EOPNOTSUPP/ENOTSUP → UNSUPP, anything else → IOERR', async (t) => {
  const withCode = (code: unknown) => Object.assign(new Error('x'), { code });
  t.equal(statusForError(withCode('EOPNOTSUPP')), S_UNSUPP);
  t.equal(statusForError(withCode('ENOTSUP')), S_UNSUPP);
  t.equal(statusForError({ code: 'EOPNOTSUPP' }), S_UNSUPP, 'a plain object works too');
  for (const error of [withCode('EIO'), withCode('ENOSPC'), withCode(95), new RangeError('x'), 'text', null, undefined, 42]) {
    t.equal(statusForError(error), S_IOERR, String(error));
  }
});

t.test('executeRequest is synchronous exactly when the backend is', async (t) => {
  const request = { type: VIRTIO_BLK_T_FLUSH } as const;
  t.equal(executeRequest(request, patternedDisk().backend), S_OK);
  const pending = executeRequest(request, spy(patternedDisk().backend, { async: true }).backend);
  t.type(pending, Promise);
  t.equal(await pending, S_OK);
  const thenable = { ...patternedDisk().backend, size: 512, flush: () => ({ then: (ok: () => void) => ok() }) as never };
  t.equal(await executeRequest(request, thenable as never), S_OK, 'a foreign thenable is accepted');
  const failing = spy(patternedDisk().backend, { failAsync: new Error('x') }).backend;
  t.equal(await executeRequest(request, failing), S_IOERR);
});
