/**
 * The loopback benchmark's rounds (bench/rounds.ts): medians, and "of
 * ceiling" taken round by round so that a drift of the host between rounds
 * does not enter the ratio.
 */
import t from 'tap';
import { median, ofCeilingByRound, summarize, type RoundSample } from '../../bench/rounds.js';

const sample = (iops: number, extra: Partial<RoundSample> = {}): RoundSample =>
  ({ iops, mibps: iops / 256, meanUs: 1e6 / iops, p99Us: 2e6 / iops, deviceCpuUs: 1e6 / iops / 2,
    kicksPerIo: 0.01, irqsPerIo: 0.02, errors: 0, ...extra });

t.test('median: odd and even counts, unsorted input left as it was, none', async (t) => {
  const values = [5, 1, 3];
  t.equal(median(values), 3);
  t.same(values, [5, 1, 3]);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])));
});

t.test('summarize: every metric its own median, errors summed, IOPS kept per round', async (t) => {
  const s = summarize([sample(300, { errors: 1, p99Us: 90, kicksPerIo: 0.5 }), sample(100, { p99Us: 10, irqsPerIo: 0.3 }),
    sample(200, { errors: 2, p99Us: 50, kicksPerIo: 0.1, irqsPerIo: 0.2 })]);
  t.equal(s.iops, 200);
  t.equal(s.mibps, 200 / 256);
  t.equal(s.meanUs, 1e6 / 200);
  t.equal(s.p99Us, 50);
  t.equal(s.deviceCpuUs, 1e6 / 200 / 2);
  t.equal(s.kicksPerIo, 0.1, 'kicks: the median of 0.5, 0.01, 0.1');
  t.equal(s.irqsPerIo, 0.2, 'IRQs: the median of 0.02, 0.3, 0.2');
  t.equal(s.errors, 3);
  t.same(s.roundIops, [300, 100, 200]);
  t.throws(() => summarize([]), /no rounds/);
});

t.test('ofCeilingByRound compares each round with its own ceiling', async (t) => {
  // The host halves its speed in round 2: the backend is 80% of the ceiling in every round.
  const ceiling = [1000, 500, 1000];
  const backend = [800, 400, 800];
  t.equal(ofCeilingByRound(backend, ceiling), 0.8);
  // Round 2 is slow and round 1's backend run caught a slow spell: by round, 0.5, 0.9 and 0.9 (median
  // 0.9); the ratio of the medians would mix rounds (500 of round 1 over 900 of round 3: 0.56).
  t.equal(ofCeilingByRound([500, 450, 810], [1000, 500, 900]), 0.9);
  t.equal(median([500, 450, 810]) / median([1000, 500, 900]), 500 / 900);
  t.throws(() => ofCeilingByRound([1, 2], [1]), /2 rounds against 1 ceilings/);
});
