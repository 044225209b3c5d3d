/** handleChain: DISCARD and WRITE_ZEROES (VIRTIO 1.2 §5.2.6), segments, flags and limits. */
import t from 'tap';
import { handleChain } from '../../src/workers/blk/handle-chain.js';
import { VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES } from '../../src/shared/virtio.js';
import type { BlkDeviceSettings } from '../../src/workers/blk/settings.js';
import {
  S_IOERR, S_OK, S_UNSUPP, chainOf, header, pattern, patternedDisk, sameBytes, segments, settingsWith, spy, stale,
} from './blk-helpers.js';

const settings = settingsWith(); // discard: 4 segments of 32 sectors; write zeroes: 2 segments of 32 sectors
const DISCARD = VIRTIO_BLK_T_DISCARD;
const WRITE_ZEROES = VIRTIO_BLK_T_WRITE_ZEROES;
const UNMAP = 1;

type Seg = [bigint, number, number];

function run(type: number, segs: Seg[] | Uint8Array[], s: BlkDeviceSettings = settings, async = false) {
  const { disk, backend: inner } = patternedDisk();
  const { backend, calls } = spy(inner, { async });
  const status = stale(1);
  const data = segs[0] instanceof Uint8Array ? (segs as Uint8Array[]) : [segments(...(segs as Seg[]))];
  const len = handleChain(chainOf([header(type), ...data], [status]), s, backend);
  return { len, status, disk, calls };
}

/** The disk's expected content: the pattern with these sector ranges zeroed. */
function zeroedAt(...ranges: Array<[number, number]>): Uint8Array {
  const expected = pattern(0, 64 * 512);
  for (const [sector, count] of ranges) expected.fill(0, sector * 512, (sector + count) * 512);
  return expected;
}

t.test('DISCARD zeroes each segment (memory disk) and nothing else', async (t) => {
  const { len, status, disk, calls } = run(DISCARD, [[2n, 3, 0], [40n, 24, 0]]);
  t.equal(len, 1);
  t.equal(status[0], S_OK);
  t.same(calls, [['discard', 1024, 1536], ['discard', 40 * 512, 24 * 512]]);
  t.ok(sameBytes(disk, zeroedAt([2, 3], [40, 24])));
});

t.test('WRITE_ZEROES honours UNMAP', async (t) => {
  const { status, disk, calls } = run(WRITE_ZEROES, [[0n, 1, 0], [63n, 1, UNMAP]]);
  t.equal(status[0], S_OK);
  t.same(calls, [['writeZeroes', 0, 512, false], ['writeZeroes', 63 * 512, 512, true]]);
  t.ok(sameBytes(disk, zeroedAt([0, 1], [63, 1])));
});

t.test('segments across views, with an asynchronous backend', async (t) => {
  const bytes = segments([1n, 1, 0], [5n, 2, 0], [9n, 32, 0]);
  const views = [bytes.subarray(0, 10), bytes.subarray(10, 17), bytes.subarray(17)];
  const { len, status, disk, calls } = run(DISCARD, views, settings, true);
  t.type(len, Promise);
  t.equal(await len, 1);
  t.equal(status[0], S_OK);
  t.equal(calls.length, 3, 'one call per segment, in order');
  t.ok(sameBytes(disk, zeroedAt([1, 1], [5, 2], [9, 32])));
  const hdr = header(DISCARD);
  const one = new Uint8Array([...hdr, ...segments([3n, 1, 0])]);
  const { backend } = patternedDisk();
  const s = stale(1);
  t.equal(handleChain(chainOf([one.subarray(0, 20), one.subarray(20)], [s]), settings, backend), 1, 'header and segment in one view');
  t.equal(s[0], S_OK);
});

t.test('a zero-sector segment is a no-op', async (t) => {
  const { status, disk, calls } = run(WRITE_ZEROES, [[64n, 0, 0]]);
  t.equal(status[0], S_OK);
  t.same(calls, []);
  t.ok(sameBytes(disk, zeroedAt()));
});

t.test('malformed segment lists: IOERR, nothing done', async (t) => {
  const cases: Array<[string, number, Seg[] | Uint8Array[]]> = [
    ['no segment', DISCARD, [new Uint8Array(0)]],
    ['8 bytes', DISCARD, [new Uint8Array(8)]],
    ['24 bytes', WRITE_ZEROES, [new Uint8Array(24)]],
    ['5 discard segments (max 4)', DISCARD, [[0n, 1, 0], [1n, 1, 0], [2n, 1, 0], [3n, 1, 0], [4n, 1, 0]]],
    ['3 write-zeroes segments (max 2)', WRITE_ZEROES, [[0n, 1, 0], [1n, 1, 0], [2n, 1, 0]]],
    ['discard of 33 sectors (max 32)', DISCARD, [[0n, 33, 0]]],
    ['write zeroes of 33 sectors (max 32)', WRITE_ZEROES, [[0n, 33, UNMAP]]],
    ['past capacity', DISCARD, [[60n, 5, 0]]],
    ['starting at capacity', WRITE_ZEROES, [[64n, 1, 0]]],
    ['huge sector', DISCARD, [[(1n << 64n) - 1n, 1, 0]]],
    ['sector 2^44', WRITE_ZEROES, [[1n << 44n, 1, 0]]],
    ['bad second segment, good first', DISCARD, [[0n, 8, 0], [62n, 8, 0]]],
  ];
  for (const [name, type, segs] of cases) {
    const { len, status, disk, calls } = run(type, segs);
    t.equal(len, 1, name);
    t.equal(status[0], S_IOERR, name);
    t.same(calls, [], `${name}: nothing reached the backend`);
    t.ok(sameBytes(disk, zeroedAt()), `${name}: disk unchanged`);
  }
});

t.test('flags and disabled features: UNSUPP, nothing done', async (t) => {
  const cases: Array<[string, number, Seg[], BlkDeviceSettings?]> = [
    ['discard with UNMAP (§5.2.6.2)', DISCARD, [[0n, 1, UNMAP]]],
    ['discard with a reserved flag', DISCARD, [[0n, 1, 2]]],
    ['write zeroes with a reserved flag', WRITE_ZEROES, [[0n, 1, 0x80000000]]],
    ['write zeroes with UNMAP and a reserved flag', WRITE_ZEROES, [[0n, 1, 3]]],
    ['bad flags in the second segment', WRITE_ZEROES, [[0n, 1, 0], [1n, 1, 4]]],
    ['discard not offered', DISCARD, [[0n, 1, 0]], settingsWith({ discard: false })],
    ['write zeroes not offered', WRITE_ZEROES, [[0n, 1, 0]], settingsWith({ writeZeroes: false })],
    ['not offered on a read-only device', DISCARD, [[0n, 1, 0]], settingsWith({ discard: false, readOnly: true })],
  ];
  for (const [name, type, segs, s] of cases) {
    const { status, disk, calls } = run(type, segs, s);
    t.equal(status[0], S_UNSUPP, name);
    t.same(calls, [], `${name}: nothing reached the backend`);
    t.ok(sameBytes(disk, zeroedAt()), `${name}: disk unchanged`);
  }
});

t.test('writable data with a discard is an error, and is zeroed', async (t) => {
  const { backend } = patternedDisk();
  const extra = stale(16);
  const status = stale(1);
  const chain = chainOf([header(WRITE_ZEROES), segments([0n, 1, 0])], [extra, status]);
  t.equal(handleChain(chain, settings, backend), 17);
  t.equal(status[0], S_IOERR);
  t.same(extra, new Uint8Array(16));
});
