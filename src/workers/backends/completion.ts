/**
 * The pending result of a backend call that completes from a batch of
 * kernel completions (io_uring's CQ, reaped on the queue's own thread).
 *
 * It is a PromiseLike, so any caller may await it as it would a backend's
 * promise. The queue loop instead subscribes with {@link whenSettled} and is
 * called back synchronously while the batch is reaped: no promise and no
 * microtask per request, and the loop can publish the whole batch (used
 * index, one IRQ) as soon as the reap is over. Under TCG emulation each
 * promise reaction and each event-loop hop costs tens of microseconds (see
 * README, Performance).
 */
export type SettleListener = (error: Error | null) => void;

export class Completion implements PromiseLike<void> {
  private state: 'pending' | 'settled' = 'pending';
  private error: Error | null = null;
  private listener: SettleListener | null = null;
  /** Made on the first then(): most completions are never awaited as promises. */
  private promise: Promise<void> | null = null;

  /**
   * Calls `listener` once the call has settled (at once if it has). It runs
   * on the stack of whatever reaped the completion, so it must not throw; a
   * throw is reported as an uncaught exception, after the backend is done.
   */
  whenSettled(listener: SettleListener): void {
    if (this.state === 'settled') {
      callSafely(listener, this.error);
      return;
    }
    const before = this.listener;
    this.listener = before === null ? listener : (error) => {
      callSafely(before, error);
      callSafely(listener, error);
    };
  }

  /** The backend's side: the call is over, with `error` or without. Later calls are ignored. */
  settle(error: Error | null): void {
    if (this.state === 'settled') return;
    this.state = 'settled';
    this.error = error;
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) callSafely(listener, error);
  }

  then<T = void, E = never>(
    onFulfilled?: ((value: void) => T | PromiseLike<T>) | null,
    onRejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<T | E> {
    this.promise ??= new Promise<void>((resolve, reject) => {
      this.whenSettled((error) => (error === null ? resolve() : reject(error)));
    });
    return this.promise.then(onFulfilled, onRejected);
  }
}

function callSafely(listener: SettleListener, error: Error | null): void {
  try {
    listener(error);
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown;
    });
  }
}
