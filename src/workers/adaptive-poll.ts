/**
 * How long a queue polls its ring after it runs dry, adapted to the traffic
 * (after QEMU's adaptive AioContext polling, util/aio-posix.c): polling only
 * pays when the next request comes soon, so the window follows the idle gaps
 * the queue actually sees, bounded by the user's maximum (`--poll-us`).
 *
 * - A gap the window would have covered had it been a bit longer (gap ≤ max):
 *   the window grows to 1.5× that gap, so the next one like it is caught.
 * - A gap longer than the maximum: polling could not have caught it; the
 *   window halves, and below {@link MIN_WINDOW_US} drops to 0, so a device
 *   with sparse traffic stops spending CPU on polling after a few requests.
 * - A request caught by the poll: the window stays.
 *
 * With a window of 0 a queue sleeps at once; the next gap still counts, so
 * polling comes back when the traffic gets dense again.
 */

/** Below this a window is not worth a poll (a kick round trip costs about as much). */
export const MIN_WINDOW_US = 2;
/** Growth over the gap that was just missed. */
const GROWTH = 1.5;

export class AdaptivePoll {
  /** Current window, µs. */
  private windowUs: number;

  /** `maxUs` 0: never poll. */
  constructor(readonly maxUs: number) {
    this.windowUs = maxUs;
  }

  /** How long to poll now, µs. */
  get window(): number {
    return this.windowUs;
  }

  /** The ring was idle `gapUs` (from running dry to the next request), and polling did not catch it. */
  missed(gapUs: number): void {
    if (this.maxUs <= 0) return;
    if (gapUs > this.maxUs) {
      const half = this.windowUs / 2;
      this.windowUs = half < MIN_WINDOW_US ? 0 : half;
    } else if (gapUs >= this.windowUs) {
      this.windowUs = Math.min(this.maxUs, Math.max(MIN_WINDOW_US, gapUs * GROWTH));
    }
  }
}
