/**
 * Attaching a VDUSE device to the vDPA bus and confirming a driver bound.
 * VDPA_CMD_DEV_NEW runs the whole driver probe synchronously inside the
 * kernel, including control messages this process must answer, so the
 * netlink round trip runs on libuv's thread pool (VdpaNetlink) while the main
 * thread keeps serving.
 */
import { readdir, readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { AttachError } from '../shared/errors.js';
import type { AttachResult } from '../shared/transport.js';
import { VdpaNetlink } from './netlink/vdpa.js';
import { VdpaNetlinkError } from './netlink/errors.js';

const VDPA_DEVICES = '/sys/bus/vdpa/devices';

/** VDPA_CMD_DEV_NEW, then waits for the bound driver's result (a block device for virtio_vdpa). */
export async function attachVdpa(name: string, timeoutMs = 30_000): Promise<AttachResult> {
  const nl = await VdpaNetlink.open();
  try {
    await nl.addDevice(name);
  } catch (err) {
    throw new AttachError(`attaching '${name}' to the vDPA bus failed: ${(err as Error).message}`, { cause: err });
  } finally {
    nl.close();
  }
  return waitForDriver(name, timeoutMs);
}

/**
 * VDPA_CMD_DEV_DEL. ENODEV means someone else (`vdpa dev del NAME`) already
 * detached it: the device is detached either way, so that is success (the
 * server must still go on to destroy its VDUSE device).
 */
export async function detachVdpa(name: string): Promise<void> {
  const nl = await VdpaNetlink.open();
  try {
    await nl.deleteDevice(name);
  } catch (err) {
    if (!(err instanceof VdpaNetlinkError && err.operation === 'DEV_DEL' && err.code === 'ENODEV')) throw err;
  } finally {
    nl.close();
  }
}

/** The bus driver bound to vDPA device `name`, or null. */
export async function boundDriver(name: string): Promise<string | null> {
  try {
    return basename(await readlink(`${VDPA_DEVICES}/${name}/driver`));
  } catch {
    return null;
  }
}

/** `/dev/vdX` of the virtio_blk disk under vDPA device `name`, or null. */
export async function findBlockDevice(name: string): Promise<string | null> {
  const dir = `${VDPA_DEVICES}/${name}`;
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const virtio of entries.filter((e) => e.startsWith('virtio'))) {
    const disks = await readdir(`${dir}/${virtio}/block`).catch(() => [] as string[]);
    if (disks[0] !== undefined) return `/dev/${disks[0]}`;
  }
  return null;
}

/**
 * A successful DEV_NEW does not prove a driver bound: a failed virtio_blk
 * probe still returns success (reference §1.10). Look at sysfs.
 */
async function waitForDriver(name: string, timeoutMs: number): Promise<AttachResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const driver = await boundDriver(name);
    if (driver === 'vhost_vdpa') return { blockDevice: null };
    const disk = await findBlockDevice(name);
    if (disk !== null) return { blockDevice: disk };
    if (Date.now() > deadline) throw new AttachError(await whyNoDisk(name, driver));
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function whyNoDisk(name: string, driver: string | null): Promise<string> {
  if (driver === null) {
    return `vDPA device '${name}' was created but no bus driver bound: load virtio_vdpa (modprobe virtio_vdpa) ` +
      `or bind one through /sys/bus/vdpa/drivers/*/bind`;
  }
  const entries = await readdir(`${VDPA_DEVICES}/${name}`).catch(() => [] as string[]);
  if (!entries.some((e) => e.startsWith('virtio'))) {
    return `driver ${driver} bound '${name}' but registered no virtio device (see dmesg)`;
  }
  return `no block device appeared for '${name}': virtio_blk is not loaded (modprobe virtio_blk) or refused ` +
    `the device (features refused or probe failed: see dmesg)`;
}
