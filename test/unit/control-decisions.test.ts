/** Pure control-plane decisions: features offered, config space, status transitions, IRQ affinity masks. */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blkConfigSpace, blkSettings, devConfig, offeredFeatures, type BlkDeviceShape } from '../../src/control/blk-config.js';
import { featureProblem, statusActions } from '../../src/control/status.js';
import { cpumaskOf, setIrqAffinity } from '../../src/control/irq-affinity.js';
import { decodeBlkConfig, decodeDevConfig } from '../../src/shared/layouts/index.js';
import * as V from '../../src/shared/virtio.js';

const shape: BlkDeviceShape = { name: 'vd0', size: 1 << 30, queues: 1, queueSize: 256, logicalBlockSize: 512,
  serial: 's', readOnly: false, discard: true, writeZeroes: true };

t.test('features offered', async (t) => {
  const f = offeredFeatures(shape);
  for (const bit of [V.VIRTIO_F_VERSION_1, V.VIRTIO_F_ACCESS_PLATFORM, V.VIRTIO_BLK_F_SEG_MAX, V.VIRTIO_BLK_F_BLK_SIZE,
    V.VIRTIO_BLK_F_FLUSH, V.VIRTIO_BLK_F_TOPOLOGY, V.VIRTIO_BLK_F_DISCARD, V.VIRTIO_BLK_F_WRITE_ZEROES,
    V.VIRTIO_F_INDIRECT_DESC, V.VIRTIO_F_EVENT_IDX]) t.ok(V.hasFeature(f, bit), `bit ${bit} offered`);
  for (const bit of [V.VIRTIO_BLK_F_CONFIG_WCE, V.VIRTIO_BLK_F_SECURE_ERASE, V.VIRTIO_BLK_F_MQ, V.VIRTIO_BLK_F_RO,
    V.VIRTIO_F_RING_PACKED, V.VIRTIO_BLK_F_ZONED, V.VIRTIO_BLK_F_LIFETIME]) t.notOk(V.hasFeature(f, bit), `bit ${bit} not offered`);
  const mq = offeredFeatures({ ...shape, queues: 4, readOnly: true, discard: false, writeZeroes: false });
  t.ok(V.hasFeature(mq, V.VIRTIO_BLK_F_MQ), 'MQ with 4 queues');
  t.ok(V.hasFeature(mq, V.VIRTIO_BLK_F_RO), 'RO when read-only');
  t.notOk(V.hasFeature(mq, V.VIRTIO_BLK_F_DISCARD), 'no DISCARD when disabled');
  t.notOk(V.hasFeature(mq, V.VIRTIO_BLK_F_WRITE_ZEROES), 'no WRITE_ZEROES when disabled');
});

t.test('config space and device config agree with the settings', async (t) => {
  const s = { ...shape, queues: 4, logicalBlockSize: 4096, queueSize: 128 };
  const cfg = decodeBlkConfig(blkConfigSpace(s));
  t.equal(cfg.capacity, BigInt((1 << 30) / 512));
  t.equal(cfg.blkSize, 4096);
  t.equal(cfg.numQueues, 4);
  t.equal(cfg.segMax, 126, 'seg_max + 2 fits the queue');
  t.equal(cfg.discardSectorAlignment, 8);
  const settings = blkSettings(s);
  t.equal(cfg.maxDiscardSectors, settings.maxDiscardSectors);
  t.equal(cfg.maxDiscardSeg, settings.maxDiscardSeg);
  t.equal(cfg.maxWriteZeroesSeg, settings.maxWriteZeroesSeg);
  const dev = decodeDevConfig(devConfig(s));
  t.equal(dev.name, 'vd0');
  t.equal(dev.deviceId, V.VIRTIO_ID_BLOCK);
  t.equal(dev.vqNum, 4);
  t.equal(dev.vqAlign, 4096);
  t.equal(dev.features, offeredFeatures(s));
  t.equal(dev.config.length, 72);
});

t.test('status transitions', async (t) => {
  const S = { A: V.VIRTIO_CONFIG_S_ACKNOWLEDGE, D: V.VIRTIO_CONFIG_S_DRIVER, F: V.VIRTIO_CONFIG_S_FEATURES_OK,
    OK: V.VIRTIO_CONFIG_S_DRIVER_OK, FAIL: V.VIRTIO_CONFIG_S_FAILED };
  t.same(statusActions(0x0f, 0), ['reset']);
  t.same(statusActions(0, S.A), []);
  t.same(statusActions(S.A, S.A | S.D), []);
  t.same(statusActions(S.A | S.D, S.A | S.D | S.F), ['check-features']);
  t.same(statusActions(S.A | S.D | S.F, S.A | S.D | S.F | S.OK), ['start-queues']);
  t.same(statusActions(0x0f, 0x0f), [], 'the same status again does nothing');
  t.same(statusActions(0x0f, 0x8f), ['stop-queues'], 'FAILED stops the queues');
  t.same(statusActions(0x0b, 0x8f), ['stop-queues'], 'DRIVER_OK with FAILED starts nothing');
});

t.test('feature checks at FEATURES_OK', async (t) => {
  const offered = offeredFeatures(shape);
  const needed = V.featureMask([V.VIRTIO_F_VERSION_1, V.VIRTIO_F_ACCESS_PLATFORM]);
  t.equal(featureProblem(offered, offered), null);
  t.equal(featureProblem(offered, needed), null, 'the minimum is enough');
  t.match(featureProblem(offered, offered | (1n << BigInt(V.VIRTIO_BLK_F_MQ))), /not offered: 0x1000/);
  t.match(featureProblem(offered, V.featureMask([V.VIRTIO_F_ACCESS_PLATFORM])), /VERSION_1/);
  t.match(featureProblem(offered, V.featureMask([V.VIRTIO_F_VERSION_1])), /ACCESS_PLATFORM/);
});

t.test('IRQ affinity masks and the sysfs write', async (t) => {
  t.equal(cpumaskOf(0), '00000001');
  t.equal(cpumaskOf(5), '00000020');
  t.equal(cpumaskOf(31), '80000000');
  t.equal(cpumaskOf(33), '00000002,00000000');
  const root = mkdtempSync(join(tmpdir(), 'vduse-sysfs-'));
  mkdirSync(join(root, 'class/vduse/d0/vq1'), { recursive: true });
  writeFileSync(join(root, 'class/vduse/d0/vq1/irq_cb_affinity'), 'ffffffff');
  t.equal(await setIrqAffinity('d0', 1, 3, root), true);
  t.equal(readFileSync(join(root, 'class/vduse/d0/vq1/irq_cb_affinity'), 'utf8'), '00000008');
  t.equal(await setIrqAffinity('d0', 0, 3, root), false, 'no file on kernels before 6.4');
});
