/**
 * Pure decisions of the device lifecycle (VIRTIO 1.2 §3.1; how virtio_vdpa
 * and virtio_blk drive a VDUSE device: reference §1.10).
 */
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1, hasFeature,
} from '../shared/virtio.js';

export type StatusAction = 'reset' | 'check-features' | 'start-queues' | 'stop-queues';

/** What a SET_STATUS from `prev` to `next` asks of the device, in order. */
export function statusActions(prev: number, next: number): StatusAction[] {
  if (next === 0) return ['reset'];
  const rising = next & ~prev;
  const actions: StatusAction[] = [];
  if (rising & VIRTIO_CONFIG_S_FAILED) actions.push('stop-queues');
  if (rising & VIRTIO_CONFIG_S_FEATURES_OK) actions.push('check-features');
  if (rising & VIRTIO_CONFIG_S_DRIVER_OK && !(next & VIRTIO_CONFIG_S_FAILED)) actions.push('start-queues');
  return actions;
}

/**
 * Why the driver's features are unacceptable, or null if they are fine: they
 * must be a subset of what we offered and include VERSION_1 and
 * ACCESS_PLATFORM (VDUSE needs the DMA API; reference §1.7).
 */
export function featureProblem(offered: bigint, driver: bigint): string | null {
  const extra = driver & ~offered;
  if (extra !== 0n) return `driver acknowledged features that were not offered: 0x${extra.toString(16)}`;
  if (!hasFeature(driver, VIRTIO_F_VERSION_1)) return 'driver did not acknowledge VIRTIO_F_VERSION_1';
  if (!hasFeature(driver, VIRTIO_F_ACCESS_PLATFORM)) return 'driver did not acknowledge VIRTIO_F_ACCESS_PLATFORM';
  return null;
}
