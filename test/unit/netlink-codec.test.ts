// Netlink / genetlink codec against hand-written byte fixtures: what iproute2
// sends for `vdpa dev add` / `vdpa dev del` (reference §1.11), the family
// lookup, and the kernel's replies (NEWFAMILY, acks, errors with extack).
import t from 'tap';
import {
  attrNested, attrStrz, attrString, attrU16Value, attrU32, attrU32Value, decodeDone, decodeError, decodeGenlMessage,
  encodeAttr, encodeError, encodeGenlMessage, findAttr, parseAttrs, splitMessages, NetlinkDecodeError,
} from '../../src/control/netlink/codec.js';
import {
  CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL, NLM_F_ACK, NLM_F_REQUEST,
  VDPA_ATTR_DEV_NAME, VDPA_ATTR_MGMTDEV_DEV_NAME, VDPA_CMD_DEV_DEL, VDPA_CMD_DEV_NEW,
} from '../../src/control/netlink/constants.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (s: string): string => Buffer.from(s).toString('hex');

const FAMILY = 0x1b;
const SEQ = 0x65000001;

// `vdpa dev add name vblk0 mgmtdev vduse`
const devNewFixture = hex(
  '2c000000 1b00 0500 01000065 00000000' + // nlmsghdr: len 44, family, REQUEST|ACK, seq, pid 0
    '03 01 0000' + // genlmsghdr: DEV_NEW, version 1
    '0a00 0200 7664757365 00 0000' + // MGMTDEV_DEV_NAME "vduse\0" + 2 pad
    '0a00 0400 76626c6b30 00 0000', // DEV_NAME "vblk0\0" + 2 pad
);

t.test('DEV_NEW: the bytes iproute2 sends', async (t) => {
  const msg = encodeGenlMessage(
    { type: FAMILY, flags: NLM_F_REQUEST | NLM_F_ACK, seq: SEQ },
    { cmd: VDPA_CMD_DEV_NEW, version: 1 },
    [attrStrz(VDPA_ATTR_MGMTDEV_DEV_NAME, 'vduse'), attrStrz(VDPA_ATTR_DEV_NAME, 'vblk0')],
  );
  t.equal(toHex(msg), toHex(devNewFixture));
});

t.test('DEV_NEW: a name needing other padding', async (t) => {
  const msg = encodeGenlMessage(
    { type: FAMILY, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 2 },
    { cmd: VDPA_CMD_DEV_NEW, version: 1 },
    [attrStrz(VDPA_ATTR_MGMTDEV_DEV_NAME, 'vduse'), attrStrz(VDPA_ATTR_DEV_NAME, 'vdpa-blk1')],
  );
  // nla_len 14 ("vdpa-blk1\0"), padded to 16; nlmsg_len 16 + 4 + 12 + 16 = 48
  t.equal(toHex(msg.subarray(0, 4)), '30000000');
  t.equal(toHex(msg.subarray(32)), '0e00 0400'.replace(/ /g, '') + text('vdpa-blk1') + '00' + '0000');
});

t.test('DEV_DEL: only the device name', async (t) => {
  const msg = encodeGenlMessage(
    { type: FAMILY, flags: NLM_F_REQUEST | NLM_F_ACK, seq: SEQ },
    { cmd: VDPA_CMD_DEV_DEL, version: 1 },
    [attrStrz(VDPA_ATTR_DEV_NAME, 'vblk0')],
  );
  t.equal(toHex(msg), toHex(hex('20000000 1b00 0500 01000065 00000000 04 01 0000 0a00 0400 76626c6b30 00 0000')));
});

t.test('CTRL_CMD_GETFAMILY for "vdpa"', async (t) => {
  const msg = encodeGenlMessage(
    { type: GENL_ID_CTRL, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1 },
    { cmd: CTRL_CMD_GETFAMILY, version: 1 },
    [attrStrz(CTRL_ATTR_FAMILY_NAME, 'vdpa')],
  );
  t.equal(toHex(msg), toHex(hex('20000000 1000 0500 01000000 00000000 03 01 0000 0900 0200 76647061 00 000000')));
});

// The controller's answer: name, id, version, hdrsize, maxattr, then ops (nested without NLA_F_NESTED, as the kernel does).
const newFamilyFixture = hex(
  '58000000 1000 0000 01000000 39300000' +
    '01 02 0000' + // CTRL_CMD_NEWFAMILY, version 2
    '0900 0200 76647061 00 000000' + // FAMILY_NAME "vdpa"
    '0600 0100 1b00 0000' + // FAMILY_ID 0x1b
    '0800 0300 01000000' + // VERSION 1
    '0800 0400 00000000' + // HDRSIZE 0
    '0800 0500 16000000' + // MAXATTR 22
    '1800 0600 1400 0100 0800 0100 03000000 0800 0200 0e000000', // OPS [1: {OP_ID 3, OP_FLAGS 0xe}]
);

t.test('CTRL_CMD_NEWFAMILY reply decodes, nested attributes too', async (t) => {
  const [msg, ...rest] = splitMessages(newFamilyFixture);
  t.equal(rest.length, 0);
  t.same(msg!.header, { len: 88, type: GENL_ID_CTRL, flags: 0, seq: 1, pid: 12345 });
  const genl = decodeGenlMessage(msg!);
  t.equal(genl.cmd, 1);
  t.equal(genl.version, 2);
  t.same(genl.attrs.map((a) => a.type), [2, 1, 3, 4, 5, 6]);
  t.equal(attrString(findAttr(genl.attrs, CTRL_ATTR_FAMILY_NAME)!), 'vdpa');
  t.equal(attrU16Value(findAttr(genl.attrs, CTRL_ATTR_FAMILY_ID)!), 0x1b);
  const ops = parseAttrs(findAttr(genl.attrs, 6)!.data);
  const op = parseAttrs(ops[0]!.data);
  t.equal(attrU32Value(op[0]!), 3);
  t.equal(attrU32Value(op[1]!), 0xe);
});

t.test('NLMSG_ERROR with error 0 is an ack (capped)', async (t) => {
  const ack = hex('24000000 0200 0001 01000065 39300000' + '00000000' + toHex(devNewFixture.subarray(0, 16)));
  const [msg] = splitMessages(ack);
  const err = decodeError(msg!);
  t.equal(err.error, 0);
  t.equal(err.capped, true);
  t.same(err.request, { len: 44, type: FAMILY, flags: 5, seq: SEQ, pid: 0 });
  t.same(err.extack, {});
  t.equal(toHex(encodeError(devNewFixture, 0, { pid: 12345 })), toHex(ack), 'encodeError builds the same ack');
});

const extackText = 'All provided attributes are not supported';
// EOPNOTSUPP without NETLINK_CAP_ACK: the request is echoed, then the TLVs (ACK_TLVS flag).
const errorFixture = hex(
  '70000000 0200 0002 01000065 39300000' + // len 112 = 16 + 4 + 44 + 48, ACK_TLVS
    'a1ffffff' + // -95
    toHex(devNewFixture) + // quoted header + echoed payload
    '2e00 0100' + text(extackText) + '00 0000', // NLMSGERR_ATTR_MSG, nla_len 46, padded to 48
);

t.test('NLMSG_ERROR with the request echoed and an extack message', async (t) => {
  t.equal(errorFixture.byteLength, 112);
  const err = decodeError(splitMessages(errorFixture)[0]!);
  t.equal(err.error, -95);
  t.equal(err.capped, false);
  t.equal(err.request.seq, SEQ);
  t.same(err.extack, { msg: extackText });
  t.equal(toHex(encodeError(devNewFixture, -95, { pid: 12345, capped: false, extack: { msg: extackText } })), toHex(errorFixture));
});

t.test('capped NLMSG_ERROR with message and offset', async (t) => {
  const fixture = hex(
    '38000000 0200 0003 01000065 39300000' + // CAPPED | ACK_TLVS
      'efffffff' + toHex(devNewFixture.subarray(0, 16)) + // -17, quoted header only
      '0b00 0100 657869737473 00 00' + // MSG "exists\0": nla_len 11, padded to 12
      '0800 0200 20000000', // OFFS 32
  );
  const err = decodeError(splitMessages(fixture)[0]!);
  t.same({ error: err.error, capped: err.capped, extack: err.extack }, {
    error: -17,
    capped: true,
    extack: { msg: 'exists', offset: 32 },
  });
  t.equal(toHex(encodeError(devNewFixture, -17, { pid: 12345, capped: true, extack: { msg: 'exists', offset: 32 } })), toHex(fixture));
});

t.test('NLMSG_DONE with and without an error', async (t) => {
  t.same(decodeDone(splitMessages(hex('14000000 0300 0200 07000000 39300000 00000000'))[0]!), { error: 0, extack: {} });
  const failed = hex('1c000000 0300 0202 07000000 39300000 ffffffff 0700 0100 6e6f00 00');
  t.same(decodeDone(splitMessages(failed)[0]!), { error: -1, extack: { msg: 'no' } });
});

t.test('several messages in one datagram; malformed input', async (t) => {
  const two = new Uint8Array(devNewFixture.byteLength + newFamilyFixture.byteLength);
  two.set(devNewFixture);
  two.set(newFamilyFixture, devNewFixture.byteLength);
  t.same(splitMessages(two).map((m) => m.header.type), [FAMILY, GENL_ID_CTRL]);
  t.throws(() => splitMessages(devNewFixture.subarray(0, 40)), NetlinkDecodeError);
  t.throws(() => splitMessages(hex('08000000 1000 0000 00000000 00000000')), NetlinkDecodeError);
  t.throws(() => splitMessages(hex('ff000000 0200 0000')), /stray bytes/);
  t.same(splitMessages(new Uint8Array(0)), []);
  t.throws(() => parseAttrs(hex('0900 0200 7664')), NetlinkDecodeError);
  t.throws(() => decodeError(splitMessages(devNewFixture)[0]!), /not NLMSG_ERROR/);
  t.throws(() => attrStrz(1, 'a\0b'), RangeError);
});

t.test('attribute helpers: u32, nested flag, padding', async (t) => {
  t.equal(toHex(attrU32(5, 0x11223344)), '0800050044332211');
  const nested = attrNested(6, [attrU32(1, 3)]);
  t.equal(toHex(nested), '0c000680' + '0800010003000000');
  const [parsed] = parseAttrs(nested);
  t.equal(parsed!.type, 6);
  t.equal(parsed!.nested, true);
  t.equal(toHex(encodeAttr(1, hex('aa'))), '05000100aa000000');
});
