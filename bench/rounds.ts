/**
 * Interleaved rounds for the loopback benchmark. On a small shared VM the
 * host's speed drifts by up to 2× within minutes (the null device's CPU per
 * request, identical work, measured 0.98–1.80 µs in one quarter hour), so
 * a ceiling measured before a backend's job and the job itself can land on
 * different sides of a drift. Running null, memory and file in turn for
 * several short rounds and comparing each backend with the ceiling *of the
 * same round* keeps the drift out of "of ceiling"; the medians keep one
 * slow or fast round out of the table.
 */

/** One backend's numbers in one round. */
export interface RoundSample {
  iops: number;
  mibps: number;
  meanUs: number;
  p99Us: number;
  /** CPU time of the queue worker threads per request. */
  deviceCpuUs: number;
  /** Kicks the queues took and IRQs they raised, per request (the server's counters): how well notifications were batched. */
  kicksPerIo: number;
  irqsPerIo: number;
  errors: number;
}

/** The rounds of one backend, summarised. */
export interface RoundSummary extends RoundSample {
  /** IOPS of each round, in the order run. */
  roundIops: number[];
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Each metric's median over the rounds; errors are summed (any error counts). */
export function summarize(rounds: readonly RoundSample[]): RoundSummary {
  if (rounds.length === 0) throw new Error('no rounds to summarise');
  const m = (key: keyof RoundSample): number => median(rounds.map((r) => r[key]));
  return {
    iops: m('iops'), mibps: m('mibps'), meanUs: m('meanUs'), p99Us: m('p99Us'), deviceCpuUs: m('deviceCpuUs'),
    kicksPerIo: m('kicksPerIo'), irqsPerIo: m('irqsPerIo'), errors: rounds.reduce((sum, r) => sum + r.errors, 0), roundIops: rounds.map((r) => r.iops),
  };
}

/**
 * A backend's IOPS as a fraction of the ceiling: the median over rounds of
 * its IOPS over the null device's in the same round.
 */
export function ofCeilingByRound(iops: readonly number[], ceilingIops: readonly number[]): number {
  if (iops.length !== ceilingIops.length) throw new Error(`${iops.length} rounds against ${ceilingIops.length} ceilings`);
  return median(iops.map((v, i) => v / ceilingIops[i]!));
}
