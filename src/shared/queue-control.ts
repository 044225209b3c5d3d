/**
 * The per-queue control block shared by the control plane (main thread) and
 * one queue worker: one SharedArrayBuffer, coordinated with `Atomics` only.
 *
 * Protocol:
 * - The worker owns `state`, `lastAvailIdx`, `inflight`, `iotlbAck` and the
 *   counters. The main thread owns `stop`, `iotlbGen` and the IOTLB range.
 * - Main changes a slot it owns, then signals the worker's wake eventfd so an
 *   idle worker notices (it sleeps on its kick fd and wake fd, not on Atomics).
 * - The worker publishes with `Atomics.store` + `Atomics.notify` on the slot;
 *   main waits with `Atomics.waitAsync` and so never blocks its event loop.
 * - The counters and `inflight` are reports, not synchronisation: their only
 *   writer (the worker) updates them with plain stores.
 */

/** Queue states (slot STATE). */
export const QueueState = {
  STOPPED: 0,
  STARTING: 1,
  RUNNING: 2,
  STOPPING: 3,
  /** The ring was corrupt or a request could not be completed: the queue no longer serves. */
  FAILED: 4,
} as const;
export type QueueStateValue = (typeof QueueState)[keyof typeof QueueState];

// Int32 slots.
const STATE = 0;
const STOP = 1;
const IOTLB_GEN = 2;
const IOTLB_ACK = 3;
const LAST_AVAIL_IDX = 4;
const INFLIGHT = 5;
const INT32_SLOTS = 8;

// BigInt64 slots, after the Int32 ones.
const IOTLB_START = 0;
const IOTLB_LAST = 1;
const BIGINT_SLOTS = 2;

/** Counter slots (Float64, after the BigInt64 ones), in this order. */
export const QUEUE_COUNTERS = ['requests', 'bytesRead', 'bytesWritten', 'errors', 'kicks', 'irqs'] as const;
export type QueueCounter = (typeof QUEUE_COUNTERS)[number];
/** A counter's slot, derived from QUEUE_COUNTERS (a misspelt name does not compile). */
const slot = (name: QueueCounter): number => QUEUE_COUNTERS.indexOf(name);
const REQUESTS = slot('requests');
const BYTES_READ = slot('bytesRead');
const BYTES_WRITTEN = slot('bytesWritten');
const ERRORS = slot('errors');
const KICKS = slot('kicks');
const IRQS = slot('irqs');

/** Bytes of one control block. */
export const QUEUE_CONTROL_BYTES = INT32_SLOTS * 4 + BIGINT_SLOTS * 8 + QUEUE_COUNTERS.length * 8;

/** Counter values read from a control block. */
export type QueueCounters = Record<QueueCounter, bigint>;

/** Typed access to one queue's control block (either side). */
export class QueueControl {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  /**
   * The counters. The worker is their only writer, so it adds with plain
   * stores: a BigInt Atomics.add per counter is a runtime call and a BigInt
   * allocation, dear at one flush per request (QD1) and far dearer in an
   * emulated guest. An aligned Float64Array element is read and written
   * whole (ECMAScript memory model: tear-free), and counts stay exact
   * up to 2^53 (bytes: 8 PiB; past that, still exact in 512-byte steps).
   */
  private readonly f64: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(QUEUE_CONTROL_BYTES)) {
    if (buffer.byteLength < QUEUE_CONTROL_BYTES) throw new RangeError('queue control block too small');
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer, 0, INT32_SLOTS);
    this.i64 = new BigInt64Array(buffer, INT32_SLOTS * 4, BIGINT_SLOTS);
    this.f64 = new Float64Array(buffer, INT32_SLOTS * 4 + BIGINT_SLOTS * 8, QUEUE_COUNTERS.length);
  }

  get state(): QueueStateValue {
    return Atomics.load(this.i32, STATE) as QueueStateValue;
  }

  /** Worker: publishes a new state and wakes whoever waits for it. */
  setState(state: QueueStateValue): void {
    Atomics.store(this.i32, STATE, state);
    Atomics.notify(this.i32, STATE);
  }

  /** Main: waits (without blocking) until `done(state)` holds or `timeoutMs` passes; returns the last state. */
  async waitState(done: (s: QueueStateValue) => boolean, timeoutMs: number): Promise<QueueStateValue> {
    return this.waitSlot(STATE, (v) => done(v as QueueStateValue), timeoutMs) as Promise<QueueStateValue>;
  }

  get stopRequested(): boolean {
    return Atomics.load(this.i32, STOP) !== 0;
  }

  /** Main: asks the worker to finish in-flight work, drop its mappings and stop. */
  requestStop(): void {
    Atomics.store(this.i32, STOP, 1);
  }

  /**
   * Main: announces that IOVA range [start, last] changed. The range is
   * stored before the generation (release order through the seq-cst store),
   * so a worker that sees the new generation sees its range.
   */
  announceIotlbChange(start: bigint, last: bigint): number {
    Atomics.store(this.i64, IOTLB_START, BigInt.asIntN(64, start));
    Atomics.store(this.i64, IOTLB_LAST, BigInt.asIntN(64, last));
    return Atomics.add(this.i32, IOTLB_GEN, 1) + 1;
  }

  get iotlbGeneration(): number {
    return Atomics.load(this.i32, IOTLB_GEN);
  }

  /** The last announced IOTLB range, as unsigned 64-bit values. */
  get iotlbRange(): { start: bigint; last: bigint } {
    return {
      start: BigInt.asUintN(64, Atomics.load(this.i64, IOTLB_START)),
      last: BigInt.asUintN(64, Atomics.load(this.i64, IOTLB_LAST)),
    };
  }

  get iotlbAck(): number {
    return Atomics.load(this.i32, IOTLB_ACK);
  }

  /** Worker: every mapping of generation `gen`'s range is gone. */
  ackIotlb(gen: number): void {
    Atomics.store(this.i32, IOTLB_ACK, gen);
    Atomics.notify(this.i32, IOTLB_ACK);
  }

  /** Main: waits until the worker acknowledged generation `gen` (or stopped). */
  async waitIotlbAck(gen: number, timeoutMs: number): Promise<boolean> {
    const ack = await this.waitSlot(IOTLB_ACK, (v) => v - gen >= 0 || this.state === QueueState.STOPPED
      || this.state === QueueState.FAILED, timeoutMs);
    return ack - gen >= 0;
  }

  get lastAvailIdx(): number {
    return Atomics.load(this.i32, LAST_AVAIL_IDX);
  }

  set lastAvailIdx(idx: number) {
    Atomics.store(this.i32, LAST_AVAIL_IDX, idx & 0xffff);
  }

  get inflight(): number {
    return Atomics.load(this.i32, INFLIGHT);
  }

  /** Worker, at every flush: a plain store (a report for readers, not a synchronisation point). */
  set inflight(n: number) {
    this.i32[INFLIGHT] = n;
  }

  /** Worker: adds to a counter (its only writer; readers only report). */
  count(counter: QueueCounter, n = 1): void {
    this.f64[QUEUE_COUNTERS.indexOf(counter)]! += n;
  }

  /** Worker: one kick handled (the hot path's own method: no name lookup). */
  countKick(): void {
    this.f64[KICKS]! += 1;
  }

  /** Worker: one IRQ injected. */
  countIrq(): void {
    this.f64[IRQS]! += 1;
  }

  /** Worker: adds a batch of completed requests. */
  countRequests(requests: number, bytesRead: number, bytesWritten: number, errors: number): void {
    const f = this.f64;
    f[REQUESTS]! += requests;
    f[BYTES_READ]! += bytesRead;
    f[BYTES_WRITTEN]! += bytesWritten;
    f[ERRORS]! += errors;
  }

  counters(): QueueCounters {
    const out = {} as QueueCounters;
    QUEUE_COUNTERS.forEach((name, i) => { out[name] = BigInt(this.f64[i]!); });
    return out;
  }

  private async waitSlot(slot: number, done: (v: number) => boolean, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = Atomics.load(this.i32, slot);
      if (done(value)) return value;
      const left = deadline - Date.now();
      if (left <= 0) return value;
      // Wakes on notify of this slot, or after `left` ms; a change between
      // the load and the wait makes waitAsync return at once ('not-equal').
      const res = Atomics.waitAsync(this.i32, slot, value, Math.min(left, 100));
      if (res.async) await res.value;
    }
  }
}
