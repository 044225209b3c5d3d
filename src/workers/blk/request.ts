/**
 * Parsing a virtio-blk request (VIRTIO 1.2 §5.2.6) out of a descriptor
 * chain: no I/O, only checks. Every byte read from guest memory is read
 * once, here: the driver could change it afterwards, so later stages work
 * on the values captured in the request object.
 */
import type { DescriptorChain } from '../virtq/chain.js';
import {
  VIRTIO_BLK_DISCARD_SEG_SIZE, VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_OUTHDR_SIZE, VIRTIO_BLK_SECTOR_SIZE,
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from '../../shared/virtio.js';
import { copyFromViews, sliceViews } from './iov.js';
import type { BlkDeviceSettings } from './settings.js';

/** IN: fill the guest's `data` from the disk at `offset` (bytes). */
export interface BlkReadRequest { readonly type: typeof VIRTIO_BLK_T_IN; readonly offset: number; readonly data: Uint8Array[] }
/** OUT: write the guest's `data` to `offset` (bytes). */
export interface BlkWriteRequest { readonly type: typeof VIRTIO_BLK_T_OUT; readonly offset: number; readonly data: Uint8Array[] }
export interface BlkFlushRequest { readonly type: typeof VIRTIO_BLK_T_FLUSH }
/** GET_ID: `data` is exactly VIRTIO_BLK_ID_BYTES writable bytes. */
export interface BlkGetIdRequest { readonly type: typeof VIRTIO_BLK_T_GET_ID; readonly data: Uint8Array[]; readonly serial: string }
/** One checked discard / write-zeroes range, in bytes. */
export interface BlkSegment { readonly offset: number; readonly length: number; readonly unmap: boolean }
export interface BlkSegmentsRequest {
  readonly type: typeof VIRTIO_BLK_T_DISCARD | typeof VIRTIO_BLK_T_WRITE_ZEROES;
  readonly segments: BlkSegment[];
}
export type BlkRequest = BlkReadRequest | BlkWriteRequest | BlkFlushRequest | BlkGetIdRequest | BlkSegmentsRequest;

// Scratch for the 16-byte header and segments (parsing is synchronous, so one per thread is enough).
const scratch = new Uint8Array(16);
const scratchView = new DataView(scratch.buffer);

/**
 * Sectors are le64; JS numbers are exact below 2^53, so a sector of 2^44 or
 * more (2^53 bytes) is past any capacity: it becomes Infinity, which fails
 * every range check.
 */
function sectorAt(byteOffset: number): number {
  const lo = scratchView.getUint32(byteOffset, true);
  const hi = scratchView.getUint32(byteOffset + 4, true);
  return hi >= 0x1000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

/** Whether [sector, sector + sectors) lies inside the device (§5.2.6.1: no I/O beyond capacity). */
function inCapacity(sector: number, sectors: number, settings: BlkDeviceSettings): boolean {
  return sector + sectors <= settings.capacitySectors;
}

/**
 * The request in `chain`, or the status to complete it with at once.
 * Header: the first 16 readable bytes, wherever the views split them;
 * status: the last writable byte; data: what lies between, in the
 * direction the type requires (data in the other direction is an error).
 */
export function parseRequest(chain: DescriptorChain, settings: BlkDeviceSettings): BlkRequest | number {
  if (chain.fault !== null || chain.writableBytes < 1) return VIRTIO_BLK_S_IOERR;
  // Fewer than 16 readable bytes: the header is missing or sits in writable memory.
  if (copyFromViews(chain.readable, 0, scratch) < VIRTIO_BLK_OUTHDR_SIZE) return VIRTIO_BLK_S_IOERR;
  const type = scratchView.getUint32(0, true);
  // scratch[4..8) is `reserved` (Linux puts ioprio there): ignored.
  const sector = sectorAt(8);
  switch (type) {
    case VIRTIO_BLK_T_IN: return parseRead(chain, sector, settings);
    case VIRTIO_BLK_T_OUT: return parseWrite(chain, sector, settings);
    case VIRTIO_BLK_T_FLUSH: return parseFlush(chain, sector);
    case VIRTIO_BLK_T_GET_ID: return parseGetId(chain, settings);
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: return parseSegments(chain, type, settings);
    // GET_LIFETIME, SECURE_ERASE, zone ops, legacy SCSI / FLUSH_OUT / BARRIER: not offered.
    default: return VIRTIO_BLK_S_UNSUPP;
  }
}

/**
 * The data views of a read: `views` less the status byte. Linux gives the
 * status a descriptor of its own, so this is usually a plain copy of the
 * list; sliceViews handles any other framing.
 */
function allButLastByte(views: Uint8Array[], length: number): Uint8Array[] {
  const last = views[views.length - 1];
  return last !== undefined && last.length === 1 ? views.slice(0, -1) : sliceViews(views, 0, length);
}

/** The data views of a write: `views` less the header (usually its own descriptor too). */
function allButHeader(views: Uint8Array[], readableBytes: number): Uint8Array[] {
  const first = views[0];
  return first !== undefined && first.length === VIRTIO_BLK_OUTHDR_SIZE
    ? views.slice(1) : sliceViews(views, VIRTIO_BLK_OUTHDR_SIZE, readableBytes);
}

/** Readable bytes after the header. */
function readableData(chain: DescriptorChain): number {
  return chain.readableBytes - VIRTIO_BLK_OUTHDR_SIZE;
}

/** Writable bytes before the status byte. */
function writableData(chain: DescriptorChain): number {
  return chain.writableBytes - 1;
}

function parseRead(chain: DescriptorChain, sector: number, settings: BlkDeviceSettings): BlkRequest | number {
  const length = writableData(chain);
  if (readableData(chain) !== 0 || length % VIRTIO_BLK_SECTOR_SIZE !== 0) return VIRTIO_BLK_S_IOERR;
  if (!inCapacity(sector, length / VIRTIO_BLK_SECTOR_SIZE, settings)) return VIRTIO_BLK_S_IOERR;
  return { type: VIRTIO_BLK_T_IN, offset: sector * VIRTIO_BLK_SECTOR_SIZE, data: allButLastByte(chain.writable, length) };
}

function parseWrite(chain: DescriptorChain, sector: number, settings: BlkDeviceSettings): BlkRequest | number {
  const length = readableData(chain);
  // §5.2.6.2: a write to a read-only device fails and writes nothing.
  if (settings.readOnly || writableData(chain) !== 0) return VIRTIO_BLK_S_IOERR;
  if (length % VIRTIO_BLK_SECTOR_SIZE !== 0) return VIRTIO_BLK_S_IOERR;
  if (!inCapacity(sector, length / VIRTIO_BLK_SECTOR_SIZE, settings)) return VIRTIO_BLK_S_IOERR;
  const data = allButHeader(chain.readable, chain.readableBytes);
  return { type: VIRTIO_BLK_T_OUT, offset: sector * VIRTIO_BLK_SECTOR_SIZE, data };
}

function parseFlush(chain: DescriptorChain, sector: number): BlkRequest | number {
  // §5.2.6.1: the driver MUST set sector to 0 for FLUSH; a flush carries no data.
  if (sector !== 0 || readableData(chain) !== 0 || writableData(chain) !== 0) return VIRTIO_BLK_S_IOERR;
  return { type: VIRTIO_BLK_T_FLUSH };
}

function parseGetId(chain: DescriptorChain, settings: BlkDeviceSettings): BlkRequest | number {
  // §5.2.6.1: the GET_ID buffer is exactly VIRTIO_BLK_ID_BYTES.
  if (readableData(chain) !== 0 || writableData(chain) !== VIRTIO_BLK_ID_BYTES) return VIRTIO_BLK_S_IOERR;
  return { type: VIRTIO_BLK_T_GET_ID, data: sliceViews(chain.writable, 0, VIRTIO_BLK_ID_BYTES), serial: settings.serial };
}

type SegmentsType = BlkSegmentsRequest['type'];

function parseSegments(chain: DescriptorChain, type: SegmentsType, settings: BlkDeviceSettings): BlkRequest | number {
  const discard = type === VIRTIO_BLK_T_DISCARD;
  if (!(discard ? settings.discard : settings.writeZeroes)) return VIRTIO_BLK_S_UNSUPP;
  if (settings.readOnly || writableData(chain) !== 0) return VIRTIO_BLK_S_IOERR;
  const length = readableData(chain);
  // §5.2.6.1: a multiple of the 16-byte segment, at most max_*_seg of them.
  if (length < VIRTIO_BLK_DISCARD_SEG_SIZE || length % VIRTIO_BLK_DISCARD_SEG_SIZE !== 0) return VIRTIO_BLK_S_IOERR;
  const count = length / VIRTIO_BLK_DISCARD_SEG_SIZE;
  if (count > (discard ? settings.maxDiscardSeg : settings.maxWriteZeroesSeg)) return VIRTIO_BLK_S_IOERR;
  const segments: BlkSegment[] = [];
  for (let i = 0; i < count; i++) {
    copyFromViews(chain.readable, VIRTIO_BLK_OUTHDR_SIZE + i * VIRTIO_BLK_DISCARD_SEG_SIZE, scratch);
    const segment = parseSegment(discard, settings);
    if (typeof segment === 'number') return segment;
    if (segment.length > 0) segments.push(segment);
  }
  return { type, segments };
}

/** The segment in `scratch`: `le64 sector; le32 num_sectors; le32 flags`. */
function parseSegment(discard: boolean, settings: BlkDeviceSettings): BlkSegment | number {
  const sector = sectorAt(0);
  const sectors = scratchView.getUint32(8, true);
  const flags = scratchView.getUint32(12, true);
  // §5.2.6.2: UNSUPP for unknown flags, and for discard with unmap set.
  if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0) return VIRTIO_BLK_S_UNSUPP;
  const unmap = (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0;
  if (discard && unmap) return VIRTIO_BLK_S_UNSUPP;
  if (sectors > (discard ? settings.maxDiscardSectors : settings.maxWriteZeroesSectors)) return VIRTIO_BLK_S_IOERR;
  if (!inCapacity(sector, sectors, settings)) return VIRTIO_BLK_S_IOERR;
  return { offset: sector * VIRTIO_BLK_SECTOR_SIZE, length: sectors * VIRTIO_BLK_SECTOR_SIZE, unmap };
}
