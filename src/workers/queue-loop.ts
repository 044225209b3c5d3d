/**
 * The loop of one queue worker: wait for a kick or a control request, then
 * disable notifications, drain the avail ring, complete, notify the driver
 * once per batch, re-enable notifications and re-check (VIRTIO 1.2 §2.7.10).
 *
 * Requests are executed as soon as they are popped: a synchronous backend
 * completes them inside the drain, published at its end or, in a long drain,
 * in groups along the way (PUBLISH_EARLY_MIN); an asynchronous one completes
 * them later. Completions reaped in a batch (io_uring's CQ, through a
 * backend Completion) are published as soon as that reap is over, in a
 * microtask; those settled one by one through promises (libuv's pool, module
 * backends) once per event-loop turn, in a setImmediate. Either way one
 * used-index publish and at most one IRQ covers the batch.
 */
import { QueueState, type QueueControl } from '../shared/queue-control.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, hasFeature } from '../shared/virtio.js';
import type { BlkDeviceSettings, RingInfo } from '../shared/worker-data.js';
import { SplitQueue } from './virtq/split-queue.js';
import type { DescriptorChain } from './virtq/chain.js';
import { handleChainThen } from './blk/handle-chain.js';
import type { BlockBackend } from './backends/backend.js';
import type { DeviceOps } from './device/device-ops.js';
import type { IovaMap } from './iova-map.js';
import { AdaptivePoll } from './adaptive-poll.js';

/**
 * A long drain of synchronous requests publishes what it has completed
 * before it ends: once PUBLISH_EARLY_MAX completions are pending, or
 * PUBLISH_EARLY_MIN when no more chains than that are known to wait behind
 * them (about half of the batch). The driver then reaps and resubmits while
 * we serve the rest, instead of each side waiting for the other's whole
 * batch; the queue rarely runs dry, so it sleeps (and needs kicks) far less.
 * Batches under PUBLISH_EARLY_MIN, as at low queue depths, are untouched.
 */
const PUBLISH_EARLY_MIN = 16;
const PUBLISH_EARLY_MAX = 32;

export interface QueueLoopOptions {
  queueIndex: number;
  ring: RingInfo;
  features: bigint;
  memory: IovaMap;
  device: DeviceOps;
  backend: BlockBackend;
  blk: BlkDeviceSettings;
  control: QueueControl;
  /** Most microseconds to keep polling after the ring runs dry (only while nothing is in flight); adapted to the traffic (adaptive-poll.ts). */
  pollMicros?: number;
  /** Called once when the queue stops serving because of the driver (corrupt ring, unusable request). */
  onFailed(reason: string): void;
}

export class QueueLoop {
  private queue: SplitQueue | null = null;
  private lastAvailIdx: number;
  private inflight = 0;
  private pendingUsed = 0;
  private flushScheduled = false;
  private batchFlushScheduled = false;
  private paused = false;
  private failed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly tally = { requests: 0, errors: 0, bytesRead: 0, bytesWritten: 0 };
  private readonly poll: AdaptivePoll;
  /** performance.now() when the ring last ran dry and polling gave up (null: not idle, or not polling). */
  private dryAt: number | null = null;
  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly flushAfterBatch = (): void => {
    this.batchFlushScheduled = false;
    this.flush();
  };

  constructor(private readonly o: QueueLoopOptions) {
    this.lastAvailIdx = o.ring.lastAvailIdx;
    this.poll = new AdaptivePoll(o.pollMicros ?? 0);
  }

  /** The driver kicked (or may have): process what is available. */
  kick(): void {
    this.o.control.countKick();
    this.drain();
  }

  /** Pops and submits every available chain, with notifications off while doing so. */
  drain(): void {
    if (this.paused || this.failed) return;
    try {
      const q = this.ring();
      for (;;) {
        q.disableNotification();
        let chain = q.popChain();
        if (chain !== null && this.dryAt !== null) this.idleEnded();
        // A request that fails the queue (no status byte) ends the batch: nothing behind it runs.
        for (; chain !== null; chain = this.failed ? null : q.popChain()) this.submit(chain);
        this.lastAvailIdx = q.lastAvailIdx;
        this.o.control.lastAvailIdx = q.lastAvailIdx;
        if (this.pollForMore(q)) continue;
        // Re-enabling publishes our position; a chain that arrived meanwhile is caught here.
        if (!q.enableNotification() || this.paused || this.failed) break;
      }
    } catch (err) {
      this.fail(`corrupt ring: ${(err as Error).message}`);
    }
    this.flush();
  }

  /**
   * Stops taking new chains and resolves once every in-flight request has
   * completed and been published, so its guest buffers can be unmapped.
   */
  async quiesce(): Promise<void> {
    this.paused = true;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.flush();
  }

  /** Takes chains again after {@link quiesce}; the ring is mapped anew on the next drain. */
  resume(): void {
    this.paused = false;
    this.drain();
  }

  /** Forgets the ring views (their mapping is about to go away). */
  dropRing(): void {
    this.queue = null;
  }

  private ring(): SplitQueue {
    if (this.queue === null) {
      const { ring, features, memory } = this.o;
      this.queue = new SplitQueue(memory, {
        size: ring.size,
        descAddr: ring.descAddr,
        driverAddr: ring.driverAddr,
        deviceAddr: ring.deviceAddr,
        eventIdx: hasFeature(features, VIRTIO_F_EVENT_IDX),
        indirect: hasFeature(features, VIRTIO_F_INDIRECT_DESC),
      });
      this.queue.lastAvailIdx = this.lastAvailIdx;
    }
    return this.queue;
  }

  /**
   * Busy-polls the avail ring for the adaptive window (at most pollMicros)
   * with notifications still off, so a driver that submits again soon needs
   * no kick and we need no wake-up. Completions are published first, or the
   * driver would wait on us. Only with nothing in flight: async completions
   * need the event loop.
   */
  private pollForMore(q: SplitQueue): boolean {
    if (this.poll.maxUs <= 0 || this.inflight > 0 || this.paused || this.failed) return false;
    this.flush();
    const start = performance.now();
    const deadline = start + this.poll.window / 1000;
    while (performance.now() < deadline) {
      if (q.hasAvailable()) return true;
    }
    this.dryAt = start;
    return false;
  }

  /** A request came after polling gave up: the idle gap tells the poller what it missed. */
  private idleEnded(): void {
    this.poll.missed((performance.now() - this.dryAt!) * 1000);
    this.dryAt = null;
  }

  private submit(chain: DescriptorChain): void {
    this.inflight++;
    this.tally.requests++;
    const result = handleChainThen(chain, this.o.blk, this.o.backend, this.completeLater);
    if (result !== undefined) {
      this.complete(chain, result);
      if (this.publishEarly()) this.flush();
    }
  }

  /** Whether the completions pending inside this drain are worth publishing now (PUBLISH_EARLY_MIN). */
  private publishEarly(): boolean {
    const n = this.pendingUsed;
    return n >= PUBLISH_EARLY_MIN && (n >= PUBLISH_EARLY_MAX || (this.queue !== null && n >= this.queue.knownAvailable));
  }

  /**
   * An asynchronous request completed. One reaped in a batch is published
   * when the code that reaped it returns (a microtask runs then, before the
   * event loop goes on): the batch is on this stack already, and a
   * setImmediate would cost one more event-loop hop (about 60 µs of a Node
   * thread in the TCG guest, `npm run bench:vm:wake`). One settled through a promise is
   * published with the others of this event-loop turn: libuv's pool settles
   * each in its own callback, and a flush apiece would cost an IRQ apiece.
   */
  private readonly completeLater = (chain: DescriptorChain, len: number, batched: boolean): void => {
    this.complete(chain, len);
    if (batched) {
      if (!this.batchFlushScheduled) {
        this.batchFlushScheduled = true;
        queueMicrotask(this.flushAfterBatch);
      }
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
  };

  private complete(chain: DescriptorChain, len: number): void {
    this.inflight--;
    if (len < 0) {
      this.fail(`request ${chain.head} has no writable status byte`);
    } else if (!this.failed && this.queue !== null) {
      this.queue.addUsed(chain.head, len);
      this.pendingUsed++;
      if (chain.fault !== null) this.tally.errors++;
      this.tally.bytesRead += chain.writableBytes;
      this.tally.bytesWritten += chain.readableBytes;
    }
    if (this.inflight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Publishes the used entries added since the last flush and notifies the driver if it asked. */
  private flush(): void {
    this.publishTally();
    if (this.pendingUsed === 0 || this.queue === null || this.failed) return;
    this.pendingUsed = 0;
    this.queue.publishUsed();
    if (this.queue.needsNotification()) {
      this.o.device.injectIrq(this.o.queueIndex);
      this.o.control.countIrq();
    }
  }

  /**
   * Counters are kept in plain numbers per batch and added to the shared
   * block at flush (one call, four plain adds: QueueControl.countRequests).
   */
  private publishTally(): void {
    const { control } = this.o;
    const t = this.tally;
    control.inflight = this.inflight;
    if (t.requests === 0 && t.errors === 0) return;
    control.countRequests(t.requests, t.bytesRead, t.bytesWritten, t.errors);
    t.requests = t.errors = t.bytesRead = t.bytesWritten = 0;
  }

  private fail(reason: string): void {
    if (this.failed) return;
    // Publish what completed cleanly before giving up on the queue.
    this.flush();
    this.failed = true;
    this.o.control.count('errors');
    this.o.control.setState(QueueState.FAILED);
    this.o.onFailed(reason);
  }
}
