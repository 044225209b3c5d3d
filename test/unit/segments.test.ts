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
