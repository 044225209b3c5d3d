/** The adaptive polling window: grows to the gaps it misses, shrinks to 0 on sparse traffic, never past the maximum. */
import t from 'tap';
import { AdaptivePoll, MIN_WINDOW_US } from '../../src/workers/adaptive-poll.js';

t.test('a maximum of 0 never polls, whatever the gaps', async (t) => {
  const p = new AdaptivePoll(0);
  for (const gap of [1, 10, 1e6]) p.missed(gap);
  t.equal(p.window, 0);
});

t.test('starts at the maximum; sparse traffic halves it down to 0', async (t) => {
  const p = new AdaptivePoll(200);
  t.equal(p.window, 200);
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    p.missed(5000); // 5 ms between requests: polling cannot help
    seen.push(p.window);
  }
  t.same(seen.slice(0, 4), [100, 50, 25, 12.5]);
  t.equal(p.window, 0, 'off after enough misses');
  t.ok(seen.every((w, i) => i === 0 || w <= seen[i - 1]!), 'never grows on long gaps');
});

t.test('a gap within the maximum brings polling back, 1.5x that gap, capped', async (t) => {
  const p = new AdaptivePoll(200);
  for (let i = 0; i < 12; i++) p.missed(10_000);
  t.equal(p.window, 0);
  p.missed(40);
  t.equal(p.window, 60, '1.5 x 40 us');
  p.missed(30);
  t.equal(p.window, 60, 'a gap the window covers leaves it alone');
  p.missed(150);
  t.equal(p.window, 200, 'capped at the maximum');
  p.missed(0.1);
  t.equal(p.window, 200, 'a tiny gap does not shrink it');
  const tiny = new AdaptivePoll(100);
  for (let i = 0; i < 12; i++) tiny.missed(1e6);
  tiny.missed(0.5);
  t.equal(tiny.window, MIN_WINDOW_US, 'never below the minimum once on');
});
