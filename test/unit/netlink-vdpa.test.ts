// VdpaNetlink against a fake kernel behind the NetlinkSocket interface:
// the requests it sends (byte-exact but for the sequence number), reply
// matching, dumps, error mapping, serialisation and close.
import t from 'tap';
import {
  attrStrz, attrU16, encodeError, encodeGenlMessage, encodeNetlinkMessage, splitMessages, type NetlinkMessage,
} from '../../src/control/netlink/codec.js';
import {
  GENL_ID_CTRL, NLMSG_DONE, NLM_F_MULTI, VDPA_ATTR_DEV_NAME, VDPA_ATTR_MGMTDEV_BUS_NAME, VDPA_ATTR_MGMTDEV_DEV_NAME,
  VDPA_CMD_DEV_GET, VDPA_CMD_MGMTDEV_GET,
} from '../../src/control/netlink/constants.js';
import { VdpaNetlinkError } from '../../src/control/netlink/errors.js';
import type { NetlinkSocket } from '../../src/control/netlink/socket.js';
import { VdpaNetlink } from '../../src/control/netlink/vdpa.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** The message with its sequence number zeroed, for comparison with fixtures. */
const noSeq = (b: Uint8Array): string => toHex(Uint8Array.from([...b.subarray(0, 8), 0, 0, 0, 0, ...b.subarray(12)]));

const VDPA_ID = 0x1b;
const getFamilyVdpa = hex('20000000 1000 0500 00000000 00000000 03 01 0000 0900 0200 76647061 00 000000');
const devNewVblk0 = hex(
  '2c000000 1b00 0500 00000000 00000000 03 01 0000 0a00 0200 7664757365 00 0000 0a00 0400 76626c6b30 00 0000',
);
const devDelVblk0 = hex('20000000 1b00 0500 00000000 00000000 04 01 0000 0a00 0400 76626c6b30 00 0000');

type Handler = (msg: NetlinkMessage, raw: Uint8Array) => Uint8Array[] | undefined;

/** Answers like the kernel: the family lookup by default, the rest through `handler` (default: ack). */
class FakeKernel implements NetlinkSocket {
  readonly sent: Uint8Array[] = [];
  readonly log: string[] = [];
  readonly families = new Map<string, number>([['vdpa', VDPA_ID], ['nlctrl', GENL_ID_CTRL]]);
  closed = false;
  readonly #inbox: Uint8Array[] = [];
  constructor(private readonly handler: Handler = () => undefined) {}

  async send(raw: Uint8Array): Promise<void> {
    const msg = splitMessages(raw)[0]!;
    this.sent.push(raw.slice());
    this.log.push(`send ${msg.header.seq}`);
    this.#inbox.push(...(this.handler(msg, raw) ?? this.#default(msg, raw)));
  }

  async recv(buffer: Uint8Array): Promise<number> {
    await new Promise((r) => setImmediate(r)); // let other callers run, as the thread pool would
    const datagram = this.#inbox.shift();
    if (datagram === undefined) throw new Error('the fake kernel has nothing more to say');
    this.log.push('recv');
    buffer.set(datagram);
    return datagram.byteLength;
  }

  close(): void {
    this.closed = true;
  }

  #default(msg: NetlinkMessage, raw: Uint8Array): Uint8Array[] {
    if (msg.header.type !== GENL_ID_CTRL) return [encodeError(raw, 0)];
    const name = Buffer.from(msg.payload.subarray(8, msg.payload.indexOf(0, 8))).toString();
    const id = this.families.get(name);
    if (id === undefined) return [encodeError(raw, -2)];
    const reply = encodeGenlMessage({ type: GENL_ID_CTRL, flags: 0, seq: msg.header.seq, pid: 99 }, { cmd: 1, version: 2 }, [
      attrStrz(2, name),
      attrU16(1, id),
    ]);
    return [reply, encodeError(raw, 0)];
  }
}

t.test('addDevice sends what iproute2 sends, resolving the family once', async (t) => {
  const kernel = new FakeKernel();
  const nl = await VdpaNetlink.open({ socket: kernel });
  await nl.addDevice('vblk0');
  await nl.deleteDevice('vblk0');
  t.same(kernel.sent.map(noSeq), [getFamilyVdpa, devNewVblk0, devDelVblk0].map(toHex));
  const seqs = kernel.sent.map((m) => splitMessages(m)[0]!.header.seq);
  t.equal(seqs[1], seqs[0]! + 1);
  t.equal(seqs[2], seqs[0]! + 2);
  t.equal(await nl.resolveFamily('vdpa'), VDPA_ID);
  t.equal(kernel.sent.length, 3, 'cached');
  nl.close();
});

t.test('a missing vdpa family says which modules to load', async (t) => {
  const kernel = new FakeKernel();
  kernel.families.delete('vdpa');
  const nl = await VdpaNetlink.open({ socket: kernel });
  const err = await nl.addDevice('vblk0').catch((e: unknown) => e);
  t.ok(err instanceof VdpaNetlinkError);
  t.match(err, {
    code: 'ENOENT',
    errno: 2,
    operation: 'GETFAMILY',
    message: 'the vdpa generic netlink family is missing: load the vdpa and vduse modules (modprobe vduse virtio_vdpa)',
  });
  kernel.families.set('vdpa', VDPA_ID);
  await nl.addDevice('vblk0');
  t.pass('a failed lookup is retried');
});

t.test('kernel errors become VdpaNetlinkError with errno, code, extack', async (t) => {
  const errors: Array<[number, { msg?: string } | undefined]> = [[-1, undefined], [-17, { msg: 'device already exists' }]];
  const kernel = new FakeKernel((msg, raw) => {
    if (msg.header.type === GENL_ID_CTRL) return undefined;
    const [errno, extack] = errors.shift()!;
    return [encodeError(raw, errno, extack === undefined ? {} : { extack })];
  });
  const nl = await VdpaNetlink.open({ socket: kernel });
  const eperm = await nl.addDevice('vblk0').catch((e: unknown) => e);
  t.match(eperm, { code: 'EPERM', errno: 1, operation: 'DEV_NEW', extack: undefined, message: /needs CAP_NET_ADMIN/ });
  const eexist = await nl.addDevice('vblk0').catch((e: unknown) => e);
  t.match(eexist, {
    code: 'EEXIST',
    errno: 17,
    extack: 'device already exists',
    message: "vdpa DEV_NEW 'vblk0': a vDPA device of that name already exists (vdpa dev del vblk0) (kernel: device already exists)",
  });
});

t.test('error messages per operation', async (t) => {
  const cases: Array<[() => Promise<unknown>, number, RegExp]> = [];
  let next = 0;
  const kernel = new FakeKernel((msg, raw) => (msg.header.type === GENL_ID_CTRL ? undefined : [encodeError(raw, next)]));
  const nl = await VdpaNetlink.open({ socket: kernel });
  cases.push([() => nl.addDevice('x'), -19, /management device 'vduse' not found/]);
  cases.push([() => nl.addDevice('x', 'other'), -95, /'other' does not support/]);
  cases.push([() => nl.addDevice('x'), -22, /max_size/]);
  cases.push([() => nl.deleteDevice('x'), -19, /no vDPA device of that name/]);
  cases.push([() => nl.deleteDevice('x'), -16, /vdpa DEV_DEL 'x' failed: EBUSY/]);
  for (const [call, errno, message] of cases) {
    next = errno;
    t.match(await call().catch((e: unknown) => e), { errno: -errno, message });
  }
});

t.test('replies with another sequence number are skipped', async (t) => {
  const kernel = new FakeKernel((msg, raw) => {
    if (msg.header.type === GENL_ID_CTRL) return undefined;
    const stale = encodeError(raw, -17);
    stale.set([0, 0, 0, 0], 8); // seq 0: the answer to something long gone
    return [stale, join(stale, encodeError(raw, 0))];
  });
  const nl = await VdpaNetlink.open({ socket: kernel });
  await nl.addDevice('vblk0');
  t.pass('acked despite stale errors');
});

/** A dump reply message for DEV_GET / MGMTDEV_GET. */
const dumpMsg = (seq: number, cmd: number, attrs: Uint8Array[]): Uint8Array =>
  encodeGenlMessage({ type: VDPA_ID, flags: NLM_F_MULTI, seq, pid: 99 }, { cmd, version: 1 }, attrs);
const done = (seq: number, error = 0): Uint8Array => {
  const body = new Uint8Array(4);
  new DataView(body.buffer).setInt32(0, error, true);
  return encodeNetlinkMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq, pid: 99 }, [body]);
};
const join = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

t.test('listDevices: a dump over several datagrams', async (t) => {
  const kernel = new FakeKernel((msg) => {
    if (msg.header.type === GENL_ID_CTRL) return undefined;
    const seq = msg.header.seq;
    const dev = (name: string): Uint8Array => dumpMsg(seq, VDPA_CMD_DEV_NEW_REPLY, [attrStrz(VDPA_ATTR_DEV_NAME, name)]);
    return [join(dev('a'), dev('bb')), join(dev('ccc'), done(seq))];
  });
  const nl = await VdpaNetlink.open({ socket: kernel });
  t.same(await nl.listDevices(), ['a', 'bb', 'ccc']);
  const request = splitMessages(kernel.sent[1]!)[0]!;
  t.equal(request.header.flags, 0x301, 'NLM_F_REQUEST | NLM_F_DUMP');
  t.equal(request.payload[0], VDPA_CMD_DEV_GET);
});
const VDPA_CMD_DEV_NEW_REPLY = 3; // the kernel fills DEV_GET replies with cmd VDPA_CMD_DEV_NEW

t.test('listManagementDevices and dump errors', async (t) => {
  let mode = 'ok';
  const kernel = new FakeKernel((msg, raw) => {
    if (msg.header.type === GENL_ID_CTRL) return undefined;
    const seq = msg.header.seq;
    if (mode === 'error') return [encodeError(raw, -1)];
    if (mode === 'done-error') return [done(seq, -12)];
    return [join(
      dumpMsg(seq, VDPA_CMD_MGMTDEV_GET, [attrStrz(VDPA_ATTR_MGMTDEV_DEV_NAME, 'vduse')]),
      dumpMsg(seq, VDPA_CMD_MGMTDEV_GET, [
        attrStrz(VDPA_ATTR_MGMTDEV_BUS_NAME, 'pci'),
        attrStrz(VDPA_ATTR_MGMTDEV_DEV_NAME, '0000:00:04.0'),
      ]),
      done(seq),
    )];
  });
  const nl = await VdpaNetlink.open({ socket: kernel });
  t.same(await nl.listManagementDevices(), ['vduse', 'pci/0000:00:04.0']);
  mode = 'error';
  t.match(await nl.listDevices().catch((e: unknown) => e), { code: 'EPERM', operation: 'DEV_GET' });
  mode = 'done-error';
  t.match(await nl.listDevices().catch((e: unknown) => e), { code: 'ENOMEM', operation: 'DEV_GET' });
});

t.test('concurrent calls go one at a time and share the family lookup', async (t) => {
  const kernel = new FakeKernel();
  const nl = await VdpaNetlink.open({ socket: kernel });
  await Promise.all([nl.addDevice('a'), nl.deleteDevice('b'), nl.addDevice('c')]);
  t.equal(kernel.sent.length, 4, 'one GETFAMILY');
  // Every send is followed by its own receives before the next send.
  const sends = kernel.log.filter((e) => e.startsWith('send')).length;
  t.equal(sends, 4);
  t.notMatch(kernel.log.join(','), /send \d+,send/);
});

t.test('malformed replies and close', async (t) => {
  const kernel = new FakeKernel((msg) => (msg.header.type === GENL_ID_CTRL ? undefined : [hex('ff000000 0200 0000')]));
  const nl = await VdpaNetlink.open({ socket: kernel });
  t.match(await nl.addDevice('x').catch((e: unknown) => e), { code: 'EPROTO', message: /malformed netlink reply/ });
  const pending = nl.deleteDevice('x').catch((e: unknown) => e);
  nl.close();
  t.equal(kernel.closed, false, 'not closed under a request in flight');
  await pending;
  await new Promise((r) => setImmediate(r));
  t.equal(kernel.closed, true);
  await t.rejects(nl.listDevices(), /closed/);
  nl.close();
});
