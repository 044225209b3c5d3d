/**
 * Netlink and generic-netlink message encoding and decoding, pure (no
 * sockets). Layouts: struct nlmsghdr (16 bytes), struct genlmsghdr (4),
 * struct nlattr (4 + data, padded to 4), struct nlmsgerr (int error +
 * the request's nlmsghdr, then the request payload unless NLM_F_CAPPED,
 * then extended-ack TLVs when NLM_F_ACK_TLVS). Host byte order throughout:
 * little-endian on every architecture VDUSE's uapi numbers are valid for.
 */
import {
  GENL_HDRLEN, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_ALIGNTO, NLMSG_DONE,
  NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_COOKIE, NLMSGERR_ATTR_MISS_NEST,
  NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
} from './constants.js';

export interface NlMsgHdr {
  len: number;
  type: number;
  flags: number;
  seq: number;
  /** Sender's port id: 0 for the kernel. */
  pid: number;
}

/** One message cut out of a datagram: its header and the payload after it (without padding). */
export interface NetlinkMessage {
  header: NlMsgHdr;
  payload: Uint8Array;
}

export interface NlAttr {
  /** Type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flags. */
  type: number;
  nested: boolean;
  data: Uint8Array;
}

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: NlAttr[];
}

/** What the kernel's extended ack may say about a failed (or warned) request. */
export interface NlExtAck {
  msg?: string;
  /** Byte offset, from the start of the request's nlmsghdr, of the offending attribute. */
  offset?: number;
  missType?: number;
  missNest?: number;
  cookie?: Uint8Array;
}

/** NLMSG_ERROR: `error` is 0 for an ack, else a negative errno. */
export interface NlMsgErr {
  error: number;
  request: NlMsgHdr;
  capped: boolean;
  extack: NlExtAck;
}

/** A malformed netlink message (truncated header, length past the datagram, ...). */
export class NetlinkDecodeError extends Error {
  override name = 'NetlinkDecodeError';
}

export function nlAlign(n: number): number {
  return (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One attribute: header, data, zero padding to 4 bytes (nla_len counts the data, not the padding). */
export function encodeAttr(type: number, data: Uint8Array, flags = 0): Uint8Array {
  const len = NLA_HDRLEN + data.byteLength;
  if (len > 0xffff) throw new RangeError(`netlink attribute ${type}: ${data.byteLength} bytes do not fit nla_len`);
  const out = new Uint8Array(nlAlign(len));
  view(out).setUint16(0, len, true);
  view(out).setUint16(2, (type & NLA_TYPE_MASK) | flags, true);
  out.set(data, NLA_HDRLEN);
  return out;
}

/** A NUL-terminated string attribute: NLA_STRING / NLA_NUL_STRING policies read it as a C string. */
export function attrStrz(type: number, value: string): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.includes(0)) throw new RangeError(`netlink attribute ${type}: string holds a NUL`);
  const data = new Uint8Array(bytes.byteLength + 1);
  data.set(bytes);
  return encodeAttr(type, data);
}

export function attrU16(type: number, value: number): Uint8Array {
  const data = new Uint8Array(2);
  view(data).setUint16(0, value, true);
  return encodeAttr(type, data);
}

export function attrU32(type: number, value: number): Uint8Array {
  const data = new Uint8Array(4);
  view(data).setUint32(0, value, true);
  return encodeAttr(type, data);
}

export function attrU64(type: number, value: bigint): Uint8Array {
  const data = new Uint8Array(8);
  view(data).setBigUint64(0, value, true);
  return encodeAttr(type, data);
}

export function attrNested(type: number, children: readonly Uint8Array[]): Uint8Array {
  return encodeAttr(type, concat(children), NLA_F_NESTED);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A whole netlink message: header (nlmsg_len filled in) then the payload parts, padded to 4. */
export function encodeNetlinkMessage(header: Omit<NlMsgHdr, 'len'>, parts: readonly Uint8Array[]): Uint8Array {
  const payload = concat(parts);
  const len = NLMSG_HDRLEN + payload.byteLength;
  const out = new Uint8Array(nlAlign(len));
  const v = view(out);
  v.setUint32(0, len, true);
  v.setUint16(4, header.type, true);
  v.setUint16(6, header.flags, true);
  v.setUint32(8, header.seq, true);
  v.setUint32(12, header.pid, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** A generic netlink message to (or from) family `type`: nlmsghdr, genlmsghdr{cmd, version, 0}, attributes. */
export function encodeGenlMessage(
  header: Omit<NlMsgHdr, 'len' | 'pid'> & { pid?: number },
  genl: { cmd: number; version: number },
  attrs: readonly Uint8Array[] = [],
): Uint8Array {
  const genlHdr = new Uint8Array(GENL_HDRLEN);
  genlHdr[0] = genl.cmd;
  genlHdr[1] = genl.version;
  return encodeNetlinkMessage({ ...header, pid: header.pid ?? 0 }, [genlHdr, ...attrs]);
}

function decodeHeader(bytes: Uint8Array, at: number): NlMsgHdr {
  const v = view(bytes);
  return {
    len: v.getUint32(at, true),
    type: v.getUint16(at + 4, true),
    flags: v.getUint16(at + 6, true),
    seq: v.getUint32(at + 8, true),
    pid: v.getUint32(at + 12, true),
  };
}

/** Cuts a received datagram into its messages (NLMSG_OK / NLMSG_NEXT). */
export function splitMessages(datagram: Uint8Array): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let at = 0;
  while (datagram.byteLength - at >= NLMSG_HDRLEN) {
    const header = decodeHeader(datagram, at);
    if (header.len < NLMSG_HDRLEN || header.len > datagram.byteLength - at) {
      throw new NetlinkDecodeError(`nlmsg_len ${header.len} at offset ${at} does not fit a ${datagram.byteLength}-byte datagram`);
    }
    messages.push({ header, payload: datagram.subarray(at + NLMSG_HDRLEN, at + header.len) });
    at += nlAlign(header.len);
  }
  // The kernel sends whole messages only; a stub shorter than a header means a truncated receive.
  if (at < datagram.byteLength) {
    throw new NetlinkDecodeError(`${datagram.byteLength - at} stray bytes after the last message`);
  }
  return messages;
}

/** The attributes in `bytes` (nla_for_each_attr). Trailing bytes shorter than a header are ignored, as the kernel does. */
export function parseAttrs(bytes: Uint8Array): NlAttr[] {
  const attrs: NlAttr[] = [];
  const v = view(bytes);
  let at = 0;
  while (bytes.byteLength - at >= NLA_HDRLEN) {
    const len = v.getUint16(at, true);
    const rawType = v.getUint16(at + 2, true);
    if (len < NLA_HDRLEN || len > bytes.byteLength - at) {
      throw new NetlinkDecodeError(`nla_len ${len} at offset ${at} does not fit ${bytes.byteLength} bytes`);
    }
    attrs.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      data: bytes.subarray(at + NLA_HDRLEN, at + len),
    });
    at += nlAlign(len);
  }
  return attrs;
}

export function decodeGenlMessage(msg: NetlinkMessage): GenlMessage {
  if (msg.payload.byteLength < GENL_HDRLEN) throw new NetlinkDecodeError('generic netlink message without genlmsghdr');
  return { cmd: msg.payload[0]!, version: msg.payload[1]!, attrs: parseAttrs(msg.payload.subarray(GENL_HDRLEN)) };
}

export function findAttr(attrs: readonly NlAttr[], type: number): NlAttr | undefined {
  return attrs.find((a) => a.type === type);
}

/** A string attribute, up to its first NUL (NLA_STRING may or may not carry one). */
export function attrString(a: NlAttr): string {
  const nul = a.data.indexOf(0);
  return decoder.decode(nul === -1 ? a.data : a.data.subarray(0, nul));
}

function sized(a: NlAttr, size: number): DataView {
  if (a.data.byteLength < size) throw new NetlinkDecodeError(`attribute ${a.type}: ${a.data.byteLength} bytes, expected ${size}`);
  return view(a.data);
}

export const attrU16Value = (a: NlAttr): number => sized(a, 2).getUint16(0, true);
export const attrU32Value = (a: NlAttr): number => sized(a, 4).getUint32(0, true);
export const attrU64Value = (a: NlAttr): bigint => sized(a, 8).getBigUint64(0, true);

function decodeExtAck(tlvs: Uint8Array): NlExtAck {
  const ack: NlExtAck = {};
  for (const a of parseAttrs(tlvs)) {
    if (a.type === NLMSGERR_ATTR_MSG) ack.msg = attrString(a);
    else if (a.type === NLMSGERR_ATTR_OFFS) ack.offset = attrU32Value(a);
    else if (a.type === NLMSGERR_ATTR_MISS_TYPE) ack.missType = attrU32Value(a);
    else if (a.type === NLMSGERR_ATTR_MISS_NEST) ack.missNest = attrU32Value(a);
    else if (a.type === NLMSGERR_ATTR_COOKIE) ack.cookie = a.data.slice();
  }
  return ack;
}

/** NLMSG_ERROR: the ack (error 0) or the failure of the request whose header it quotes. */
export function decodeError(msg: NetlinkMessage): NlMsgErr {
  if (msg.header.type !== NLMSG_ERROR) throw new NetlinkDecodeError(`message type ${msg.header.type} is not NLMSG_ERROR`);
  if (msg.payload.byteLength < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError('NLMSG_ERROR shorter than struct nlmsgerr');
  const error = view(msg.payload).getInt32(0, true);
  const request = decodeHeader(msg.payload, 4);
  const capped = (msg.header.flags & NLM_F_CAPPED) !== 0;
  // Without CAPPED the kernel echoes the request's payload (nlmsg_len - 16 bytes, padded) before the TLVs.
  const echoed = capped ? 0 : nlAlign(Math.max(0, request.len - NLMSG_HDRLEN));
  const tlvStart = 4 + NLMSG_HDRLEN + echoed;
  const hasTlvs = (msg.header.flags & NLM_F_ACK_TLVS) !== 0 && tlvStart <= msg.payload.byteLength;
  return { error, request, capped, extack: hasTlvs ? decodeExtAck(msg.payload.subarray(tlvStart)) : {} };
}

/** NLMSG_DONE, the end of a dump: an int error (0 or -errno), then extack TLVs when NLM_F_ACK_TLVS. */
export function decodeDone(msg: NetlinkMessage): { error: number; extack: NlExtAck } {
  if (msg.header.type !== NLMSG_DONE) throw new NetlinkDecodeError(`message type ${msg.header.type} is not NLMSG_DONE`);
  const error = msg.payload.byteLength >= 4 ? view(msg.payload).getInt32(0, true) : 0;
  const hasTlvs = (msg.header.flags & NLM_F_ACK_TLVS) !== 0 && msg.payload.byteLength > 4;
  return { error, extack: hasTlvs ? decodeExtAck(msg.payload.subarray(4)) : {} };
}

/**
 * An NLMSG_ERROR as the kernel builds it (netlink_ack), for fakes and tests:
 * the request echoed unless `capped`, then the extack TLVs if any.
 */
export function encodeError(
  request: Uint8Array,
  error: number,
  opts: { pid?: number; capped?: boolean; extack?: { msg?: string; offset?: number } } = {},
): Uint8Array {
  const req = splitMessages(request)[0];
  if (req === undefined) throw new NetlinkDecodeError('encodeError needs a request message');
  const capped = opts.capped ?? error === 0;
  const head = new Uint8Array(4);
  view(head).setInt32(0, error, true);
  const quoted = request.subarray(0, NLMSG_HDRLEN);
  const echo = capped ? new Uint8Array(0) : request.slice(NLMSG_HDRLEN, nlAlign(req.header.len));
  const tlvs: Uint8Array[] = [];
  if (opts.extack?.msg !== undefined) tlvs.push(attrStrz(NLMSGERR_ATTR_MSG, opts.extack.msg));
  if (opts.extack?.offset !== undefined) tlvs.push(attrU32(NLMSGERR_ATTR_OFFS, opts.extack.offset));
  const flags = (capped ? NLM_F_CAPPED : 0) | (tlvs.length > 0 ? NLM_F_ACK_TLVS : 0);
  return encodeNetlinkMessage(
    { type: NLMSG_ERROR, flags, seq: req.header.seq, pid: opts.pid ?? req.header.pid },
    [head, quoted, echo, ...tlvs],
  );
}
