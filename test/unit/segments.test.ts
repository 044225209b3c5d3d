// Segments: views as the [base, offset, length] triples the io_uring prep
// functions take, one base per distinct buffer.
import t from 'tap';
import { Segments } from '../../src/workers/backends/segments.js';

t.test('views of one buffer share one whole-buffer base', async (t) => {
  const buffer = new ArrayBuffer(65536);
  const whole = new Uint8Array(buffer);
  const s = new Segments().fill([whole.subarray(4096, 8192), whole.subarray(100, 612), new Uint8Array(buffer, 65535, 1)]);
  t.equal(s.count, 3);
  t.equal(s.bases.length, 1);
  t.equal(s.bases[0]!.buffer, buffer);
  t.equal(s.bases[0]!.byteOffset, 0);
  t.equal(s.bases[0]!.length, 65536);
  t.same([...s.triples.subarray(0, 9)], [0, 4096, 4096, 0, 100, 512, 0, 65535, 1]);
});

t.test('views of several buffers, interleaved, get a base each; a refill starts over', async (t) => {
  const a = new Uint8Array(1024);
  const b = new Uint8Array(new SharedArrayBuffer(2048));
  const s = new Segments().fill([a.subarray(10, 20), b.subarray(0, 5), a.subarray(0, 1), b.subarray(2000)]);
  t.equal(s.bases.length, 2);
  t.equal(s.bases[0]!.buffer, a.buffer);
  t.equal(s.bases[1]!.buffer, b.buffer);
  t.same([...s.triples.subarray(0, 12)], [0, 10, 10, 1, 0, 5, 0, 0, 1, 1, 2000, 48]);
  s.fill([b.subarray(1, 2)]);
  t.equal(s.count, 1);
  t.same(s.bases.map((x) => x.buffer), [b.buffer], 'only the buffers of this fill');
  t.same([...s.triples.subarray(0, 3)], [0, 1, 1]);
});

t.test('at most max views; none gives none', async (t) => {
  const views = Array.from({ length: 5 }, (_, i) => new Uint8Array(8).subarray(i, i + 1));
  const s = new Segments(3).fill(views);
  t.equal(s.count, 3);
  t.equal(s.triples.length, 9);
  t.equal(s.bases.length, 3, 'five buffers, three described');
  s.fill([]);
  t.equal(s.count, 0);
  t.equal(s.bases.length, 0);
});

t.test('a later fill in the same buffer reuses its base view; another buffer gets its own', async (t) => {
  const a = new Uint8Array(4096);
  const b = new Uint8Array(4096);
  const s = new Segments();
  const first = s.fill([a.subarray(0, 512)]).bases[0];
  t.equal(s.fill([a.subarray(512, 1024)]).bases[0], first, 'same object, no allocation');
  const other = s.fill([b.subarray(0, 8)]).bases[0]!;
  t.not(other, first);
  t.equal(other.buffer, b.buffer);
  t.same([...s.triples.subarray(0, 3)], [0, 0, 8]);
});

t.test('basesArg: the one base itself, or the array when there are several', async (t) => {
  const a = new Uint8Array(64);
  const b = new Uint8Array(64);
  const s = new Segments();
  t.equal(s.fill([a.subarray(1, 2), a.subarray(3, 4)]).basesArg, s.bases[0]);
  t.equal(s.fill([a.subarray(1, 2), b.subarray(3, 4)]).basesArg, s.bases);
  t.equal(s.bases.length, 2);
  t.equal(s.fill([b]).bases.length, 1, 'shortened again');
});
