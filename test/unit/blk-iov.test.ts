import t from 'tap';
import { copyFromViews, copyToViews, fillViews, sliceViews } from '../../src/workers/blk/iov.js';

const backing = Uint8Array.from({ length: 20 }, (_, i) => i);
const views = [backing.subarray(0, 3), backing.subarray(3, 10), backing.subarray(10, 10), backing.subarray(10, 20)];
const bytesOf = (vs: Uint8Array[]) => vs.flatMap((v) => [...v]);

t.test('sliceViews returns the byte range as subviews without copying', async (t) => {
  for (const [start, end] of [[0, 20], [0, 3], [2, 5], [3, 10], [5, 15], [10, 20], [19, 20], [7, 7], [0, 0]] as const) {
    const sliced = sliceViews(views, start, end);
    t.same(bytesOf(sliced), [...backing.subarray(start, end)], `[${start}, ${end})`);
    for (const s of sliced) {
      t.equal(s.buffer, backing.buffer, 'shares memory');
      t.ok(s.length > 0, 'no empty views');
    }
  }
  t.equal(sliceViews(views, 3, 10)[0], views[1], 'a whole view is returned as is');
  t.same(sliceViews(views, 0, 100).length, 3, 'an end past the views stops at their end');
});

t.test('copyFromViews crosses view boundaries and reports what was available', async (t) => {
  const dst = new Uint8Array(6);
  t.equal(copyFromViews(views, 1, dst), 6);
  t.same([...dst], [1, 2, 3, 4, 5, 6]);
  t.equal(copyFromViews(views, 8, dst), 6);
  t.same([...dst], [8, 9, 10, 11, 12, 13]);
  t.equal(copyFromViews(views, 17, dst), 3, 'short at the end');
  t.equal(copyFromViews([], 0, dst), 0);
});

t.test('copyToViews and fillViews write through the views', async (t) => {
  const a = new Uint8Array(2);
  const b = new Uint8Array(5);
  copyToViews([a, b], Uint8Array.from([9, 8, 7, 6]));
  t.same([...a, ...b], [9, 8, 7, 6, 0, 0, 0]);
  fillViews([a, b], 1);
  t.same([...a, ...b], [1, 1, 1, 1, 1, 1, 1]);
});
