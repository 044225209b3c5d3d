// The addon's io_uring object against the real kernel: readv/writev/fsync/
// fallocate round trips on a temporary file, errors as negative results,
// the eventfd, the slot and SQ limits, close with I/O in flight, workers.
// Skips (saying why) where io_uring is unavailable (old kernel, seccomp).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { native, type IoUring, type NativeError } from '../../src/shared/native.js';
import { Segments } from '../../src/workers/backends/segments.js';
import { ioUringUnavailable, tempDisk, type Tap } from '../helpers/temp-disk.js';

const addonPath = fileURLToPath(new URL('../../../build/Release/vduse_native.node', import.meta.url));
const n = fs.existsSync(addonPath) ? native() : null;

const reason = ioUringUnavailable();
const opts = reason === null ? {} : { skip: reason };
if (reason !== null) t.comment(`skipping io_uring tests: ${reason}`);


/** prepReadv/prepWritev of views, through Segments as the backend does it. */
function prepReadv(r: IoUring, fd: number, views: Uint8Array[], offset: number, userData: number): void {
  const s = new Segments(Math.max(1, views.length)).fill(views);
  r.prepReadv(fd, s.bases, s.triples, s.count, offset, userData);
}
function prepWritev(r: IoUring, fd: number, views: Uint8Array[], offset: number, userData: number): void {
  const s = new Segments(Math.max(1, views.length)).fill(views);
  r.prepWritev(fd, s.bases, s.triples, s.count, offset, userData);
}

function ring(t: Tap, entries = 8): IoUring {
  const r = n!.ioUringCreate(entries);
  t.teardown(() => r.close());
  return r;
}

/** Submits, then reaps until `count` completions came back (busy-waiting: these are quick file ops). */
function submitAndWait(r: IoUring, count: number): Map<number, number> {
  r.submit();
  const out = new Float64Array(64);
  const results = new Map<number, number>();
  const deadline = Date.now() + 10_000;
  while (results.size < count) {
    const got = r.reap(out);
    for (let i = 0; i < got; i++) results.set(out[2 * i]!, out[2 * i + 1]!);
    if (Date.now() > deadline) throw new Error(`only ${results.size} of ${count} completions`);
  }
  return results;
}

t.test('create: sizes, and EINVAL as a NativeError', opts, async (t) => {
  const r = ring(t, 6);
  t.equal(r.sqEntries, 8, 'rounded up to a power of two');
  t.equal(r.cqEntries, 16, 'the CQ is twice the SQ');
  t.equal(r.inflight, 0);
  t.throws(() => n!.ioUringCreate(0), { code: 'EINVAL', errno: -22, syscall: 'io_uring_setup' });
});

t.test('writev then readv across several views, at an offset', opts, async (t) => {
  const { fd } = tempDisk(t, 65536);
  const r = ring(t);
  const views = [new Uint8Array(512).fill(1), new Uint8Array(3584).fill(2), new Uint8Array(100).fill(3)];
  prepWritev(r, fd, views, 8192, 41);
  t.equal(r.inflight, 1);
  t.same([...submitAndWait(r, 1)], [[41, 4196]], 'userData and bytes written');
  t.equal(r.inflight, 0, 'the slot is free once reaped');
  const expected = Buffer.concat(views);
  const disk = fs.readFileSync(fs.readlinkSync(`/proc/self/fd/${fd}`));
  t.same(disk.subarray(8192, 8192 + 4196), expected);
  t.equal(disk[8191], 0xab);
  t.equal(disk[8192 + 4196], 0xab);

  const guest = new Uint8Array(new SharedArrayBuffer(8192));
  prepReadv(r, fd, [guest.subarray(0, 1000), guest.subarray(4096, 7292)], 8192, 0.5);
  t.same([...submitAndWait(r, 1)], [[0.5, 4196]], 'a fractional userData comes back as is');
  t.same(Buffer.concat([guest.subarray(0, 1000), guest.subarray(4096, 7292)]), expected);
  t.equal(guest[1000], 0, 'nothing past the views');

  const lone = new Uint8Array(4196);
  r.prepReadv(fd, lone, new Float64Array([0, 0, 4196]), 1, 8192, 7);
  t.same([...submitAndWait(r, 1)], [[7, 4196]], 'a lone base, not in an array');
  t.same(Buffer.from(lone), expected);
});

t.test('several operations in one submit; reap in small batches; Int32Array pairs', opts, async (t) => {
  const { fd } = tempDisk(t, 65536);
  const r = ring(t);
  const bufs = Array.from({ length: 6 }, () => new Uint8Array(4096));
  bufs.forEach((b, i) => prepReadv(r, fd, [b], i * 4096, 100 + i));
  t.equal(r.submit(), 6, 'six SQEs went in');
  const out = new Int32Array(4); // two pairs per call
  const seen: number[][] = [];
  while (seen.length < 6) {
    const got = r.reap(out);
    t.ok(got <= 2, 'no more than fit');
    for (let i = 0; i < got; i++) seen.push([out[2 * i]!, out[2 * i + 1]!]);
  }
  t.same(seen.sort((a, b) => a[0]! - b[0]!), bufs.map((_, i) => [100 + i, 4096]));
  t.ok(bufs.every((b) => b.every((x) => x === 0xab)));
  t.equal(r.reap(out), 0, 'nothing left');
  t.equal(r.submit(), 0, 'nothing to submit');
});

t.test('a read at end of file is short, then 0', opts, async (t) => {
  const { fd } = tempDisk(t, 1024);
  const r = ring(t);
  prepReadv(r, fd, [new Uint8Array(4096)], 512, 1);
  prepReadv(r, fd, [new Uint8Array(4096)], 1024, 2);
  t.same(submitAndWait(r, 2), new Map([[1, 512], [2, 0]]));
});

t.test('fsync and fdatasync; fallocate punches a hole', opts, async (t) => {
  const { fd } = tempDisk(t, 1 << 20);
  const r = ring(t);
  r.prepFsync(fd, true, 1);
  r.prepFsync(fd, false, 2);
  const { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } = n!.constants;
  r.prepFallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, 65536, 3);
  t.same(submitAndWait(r, 3), new Map([[1, 0], [2, 0], [3, 0]]));
  const back = new Uint8Array(65536 + 2);
  fs.readSync(fd, back, 0, back.length, 65535);
  t.equal(back[0], 0xab);
  t.ok(back.subarray(1, 65537).every((b) => b === 0), 'the hole reads as zeroes');
  t.equal(back[65537], 0xab);
  t.equal(fs.fstatSync(fd).size, 1 << 20, 'KEEP_SIZE');
});

t.test('errors come back as negative errnos in the completion, not as throws', opts, async (t) => {
  const { file } = tempDisk(t, 4096);
  const r = ring(t);
  const ro = fs.openSync(file, 'r');
  const dir = fs.openSync(path.dirname(file), 'r');
  t.teardown(() => {
    fs.closeSync(ro);
    fs.closeSync(dir);
  });
  const { EBADF, EISDIR, EINVAL } = os.constants.errno;
  prepWritev(r, ro, [new Uint8Array(512)], 0, 1); // not open for writing
  prepReadv(r, dir, [new Uint8Array(512)], 0, 2);
  prepReadv(r, 1 << 30, [new Uint8Array(512)], 0, 3); // no such fd
  prepReadv(r, ro, Array.from({ length: 1025 }, () => new Uint8Array(1)), 0, 4); // past UIO_MAXIOV
  t.same(submitAndWait(r, 4), new Map([[1, -EBADF], [2, -EISDIR], [3, -EBADF], [4, -EINVAL]]));
});

t.test('the eventfd fires for a completion posted outside submit', opts, async (t) => {
  const { fd } = tempDisk(t, 4096);
  const r = ring(t);
  const efd = r.eventfd();
  t.equal(r.eventfd(), efd, 'the same fd on later calls');
  const out = new Float64Array(2);
  let wake: ((userData: number) => void) | null = null;
  const w = n!.watch(efd, n!.constants.UV_READABLE, () => {
    n!.read(efd, new Uint8Array(8));
    if (r.reap(out) === 1) wake?.(out[0]!);
  });
  t.teardown(() => w.close());
  // An fsync runs on an io-wq thread, after submit returns; should it beat
  // our reap (then it signals nothing: submit mutes the eventfd and the
  // caller reaps), try again.
  for (let attempt = 1; attempt <= 20; attempt++) {
    const fired = new Promise<number>((resolve) => { wake = resolve; });
    r.prepFsync(fd, true, attempt);
    r.submit();
    if (r.reap(out) === 1) continue;
    t.equal(await fired, attempt, `completion ${attempt} came through the eventfd`);
    return;
  }
  t.comment('every fsync completed before the reap: the eventfd path was not observable');
});

t.test('limits: a full SQ and every slot in flight refuse with EBUSY', opts, async (t) => {
  const { fd } = tempDisk(t, 4096);
  const r = ring(t, 2); // 2 SQEs, 4 CQEs
  r.prepFsync(fd, true, 1);
  r.prepFsync(fd, true, 2);
  t.throws(() => r.prepFsync(fd, true, 3), { code: 'EBUSY', syscall: 'io_uring_prep' }, 'SQ full');
  t.equal(r.submit(), 2);
  r.prepFsync(fd, true, 3);
  r.prepFsync(fd, true, 4);
  t.equal(r.inflight, 4);
  t.throws(() => prepReadv(r, fd, [new Uint8Array(512)], 0, 5), { code: 'EBUSY' }, 'every CQ slot taken');
  t.same([...submitAndWait(r, 4).keys()].sort(), [1, 2, 3, 4]);
  t.equal(r.inflight, 0);
});

t.test('argument checks throw TypeErrors and leave nothing prepared', opts, async (t) => {
  const r = ring(t);
  const one = new Float64Array([0, 0, 1]);
  t.throws(() => r.prepReadv(0, 'x' as unknown as Uint8Array[], one, 1, 0, 1), TypeError);
  t.throws(() => r.prepReadv(0, [new Uint8Array(1), {} as Uint8Array], one, 1, 0, 1), TypeError);
  t.throws(() => r.prepReadv(0, [new Uint8Array(1)], [0, 0, 1] as unknown as Float64Array, 1, 0, 1), TypeError);
  t.throws(() => r.prepReadv(0, [new Uint8Array(1)], new Int32Array(3) as unknown as Float64Array, 1, 0, 1), TypeError);
  t.throws(() => r.prepWritev(0, [], new Float64Array(0), 0, 0, 'x' as unknown as number), TypeError);
  t.throws(() => r.reap(new Uint8Array(8) as unknown as Int32Array), TypeError);
  t.equal(r.inflight, 0);
  t.equal(r.submit(), 0);
});

t.test('segments outside their base are refused with a RangeError, and nothing is prepared', opts, async (t) => {
  const { fd } = tempDisk(t, 65536);
  const r = ring(t);
  const base = new Uint8Array(new ArrayBuffer(8192), 4096, 1024); // a base need not start its buffer
  const bad: Array<[string, number[], number]> = [
    ['past the end', [0, 1000, 25], 1],
    ['a length past the end', [0, 0, 1025], 1],
    ['a negative offset', [0, -1, 10], 1],
    ['a fractional offset', [0, 0.5, 10], 1],
    ['a NaN length', [0, 0, Number.NaN], 1],
    ['no such base', [1, 0, 10], 1],
    ['a negative base', [-1, 0, 10], 1],
    ['the second of two segments', [0, 0, 512, 0, 512, 513], 2],
    ['fewer triples than count', [0, 0, 512], 2],
  ];
  for (const [what, triples, count] of bad) {
    t.throws(() => r.prepReadv(fd, [base], new Float64Array(triples), count, 0, 1), RangeError, what);
  }
  t.equal(r.inflight, 0, 'no slot was kept');
  t.equal(r.submit(), 0, 'no SQE was prepared');
  r.prepReadv(fd, [base], new Float64Array([0, 1000, 24]), 1, 0, 7);
  t.same([...submitAndWait(r, 1)], [[7, 24]], 'the last byte of the base is in range');
});

t.test('close: waits for what is in flight, drops what is only prepared, is idempotent', opts, async (t) => {
  const { fd } = tempDisk(t, 1 << 20);
  const r = n!.ioUringCreate(8);
  const efd = r.eventfd();
  const big = new Uint8Array(1 << 20).fill(5);
  prepWritev(r, fd, [big], 0, 1);
  r.prepFsync(fd, true, 2);
  r.submit();
  prepWritev(r, fd, [new Uint8Array(512).fill(9)], 0, 3); // never submitted
  r.close();
  t.equal(r.inflight, 0);
  const back = new Uint8Array(1 << 20);
  fs.readSync(fd, back, 0, back.length, 0);
  t.ok(back.every((b) => b === 5), 'the submitted write is complete; the dropped one never ran');
  t.throws(() => fs.fstatSync(efd), { code: 'EBADF' }, 'the eventfd is closed');
  r.close();
  t.throws(() => r.prepFsync(fd, true, 4), { code: 'EBADF' });
  t.throws(() => r.eventfd(), { code: 'EBADF' });
  t.throws(() => r.submit(), { code: 'EBADF', syscall: 'io_uring_enter' });
  t.equal(r.reap(new Float64Array(2)), 0);
});

t.test('buffers stay alive while the kernel holds them, even with no JS reference', opts, async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { fd } = tempDisk(t, 2 << 20, 0x3c);
  const r = ring(t, 64);
  const sums: number[] = [];
  for (let i = 0; i < 64; i++) prepReadv(r, fd, [new Uint8Array(16384), new Uint8Array(100)], i * 16384, i);
  gc();
  gc();
  for (const [, res] of submitAndWait(r, 64)) sums.push(res);
  t.ok(sums.every((s) => s === 16484), 'every read completed whole');
  // Reading into memory the GC had freed would have corrupted the heap: allocate and check a lot.
  const check = Array.from({ length: 64 }, (_, i) => new Uint8Array(16384).fill(i));
  t.ok(check.every((a, i) => a.every((b) => b === i)));
});

t.test('works in worker threads, and a worker ending with I/O in flight waits for it', opts, async (t) => {
  const { file } = tempDisk(t, 1 << 20);
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const addon = require(workerData.addonPath);
    const fd = fs.openSync(workerData.file, 'r+');
    const r = addon.ioUringCreate(4);
    const buf = new Uint8Array(4096);
    r.prepReadv(fd, [buf], new Float64Array([0, 0, 4096]), 1, 0, 9);
    r.submit();
    const out = new Float64Array(2);
    while (r.reap(out) === 0);
    // Leave a 1 MiB write and an fsync in flight, unreaped, and end the thread.
    r.prepWritev(fd, [new Uint8Array(1 << 20).fill(0x77)], new Float64Array([0, 0, 1 << 20]), 1, 0, 1);
    r.prepFsync(fd, true, 2);
    r.submit();
    parentPort.postMessage([out[0], out[1], buf[0]]);
  `;
  const worker = new Worker(code, { eval: true, workerData: { addonPath, file } });
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  t.same(message, [9, 4096, 0xab]);
  t.equal(await new Promise((resolve) => worker.once('exit', resolve)), 0, 'the worker exits cleanly');
  const back = fs.readFileSync(file);
  t.ok(back.every((b) => b === 0x77), 'the write in flight at exit completed');
});
