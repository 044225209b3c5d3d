/**
 * A client for the "vdpa" generic netlink family: attach (DEV_NEW) and
 * detach (DEV_DEL) VDUSE devices, list vDPA and management devices.
 * It sends exactly what iproute2's `vdpa dev add name X mgmtdev vduse` and
 * `vdpa dev del X` send (reference §1.11). No call blocks the calling
 * thread: DEV_NEW makes the kernel probe the device synchronously, and the
 * probe's VDUSE messages are answered by this same thread meanwhile.
 */
import {
  CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_CTRL_REQUEST_VERSION, GENL_ID_CTRL,
  NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
  VDPA_ATTR_DEV_NAME, VDPA_ATTR_MGMTDEV_BUS_NAME, VDPA_ATTR_MGMTDEV_DEV_NAME, VDPA_CMD_DEV_DEL, VDPA_CMD_DEV_GET,
  VDPA_CMD_DEV_NEW, VDPA_CMD_MGMTDEV_GET, VDPA_GENL_NAME, VDPA_GENL_VERSION, VDUSE_MGMTDEV_NAME,
} from './constants.js';
import {
  NetlinkDecodeError, attrStrz, attrString, attrU16Value, decodeDone, decodeError, decodeGenlMessage,
  encodeGenlMessage, findAttr, splitMessages, type NetlinkMessage,
} from './codec.js';
import { ENOENT, EPROTO, VdpaNetlinkError, type VdpaErrorContext, type VdpaOperation } from './errors.js';
import { openNativeNetlinkSocket, type NetlinkSocket } from './socket.js';

/** Room for the largest datagram the kernel builds for a dump (it caps them at 32 KiB). */
const RECV_BUFFER_SIZE = 64 * 1024;

interface Request {
  op: VdpaOperation;
  context: VdpaErrorContext;
  message: Uint8Array;
  seq: number;
  dump: boolean;
}

export class VdpaNetlink {
  readonly #socket: NetlinkSocket;
  readonly #families = new Map<string, Promise<number>>();
  #seq: number;
  /** Requests go one at a time: replies are read from the one socket. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(socket: NetlinkSocket) {
    this.#socket = socket;
    // Any start works (the socket is ours alone); a time-based one, like iproute2's, eases reading traces.
    this.#seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  /** Opens a netlink socket (no root needed). The vdpa family is resolved at the first command. */
  static async open(options: { socket?: NetlinkSocket } = {}): Promise<VdpaNetlink> {
    return new VdpaNetlink(options.socket ?? openNativeNetlinkSocket());
  }

  /**
   * The numeric id of a generic netlink family (CTRL_CMD_GETFAMILY to
   * GENL_ID_CTRL). ENOENT becomes a VdpaNetlinkError saying which modules to load.
   */
  resolveFamily(name: string = VDPA_GENL_NAME): Promise<number> {
    // Concurrent first calls share one lookup; a failed lookup is forgotten so a later call retries
    // (e.g. after modprobe).
    let pending = this.#families.get(name);
    if (pending === undefined) {
      pending = this.#getFamily(name);
      this.#families.set(name, pending);
      pending.catch(() => this.#families.delete(name));
    }
    return pending;
  }

  async #getFamily(name: string): Promise<number> {
    const seq = this.#nextSeq();
    const message = encodeGenlMessage(
      { type: GENL_ID_CTRL, flags: NLM_F_REQUEST | NLM_F_ACK, seq },
      { cmd: CTRL_CMD_GETFAMILY, version: GENL_CTRL_REQUEST_VERSION },
      [attrStrz(CTRL_ATTR_FAMILY_NAME, name)],
    );
    const replies = await this.#transact({ op: 'GETFAMILY', context: { subject: name }, message, seq, dump: false });
    for (const reply of replies) {
      const id = findAttr(decodeGenlMessage(reply).attrs, CTRL_ATTR_FAMILY_ID);
      if (id !== undefined) return attrU16Value(id);
    }
    throw new VdpaNetlinkError('GETFAMILY', ENOENT, { subject: name });
  }

  /** VDPA_CMD_DEV_NEW: attaches the VDUSE device `name` (the vdpa name must equal the VDUSE name). */
  async addDevice(name: string, mgmtdev: string = VDUSE_MGMTDEV_NAME): Promise<void> {
    // Only the management device handle and the name: VDUSE's config_attr_mask is 0, so any
    // device attribute (MAC, MTU, features) fails with EOPNOTSUPP; "vduse" has no bus name.
    await this.#vdpaDoit('DEV_NEW', VDPA_CMD_DEV_NEW, { subject: name, mgmtdev }, [
      attrStrz(VDPA_ATTR_MGMTDEV_DEV_NAME, mgmtdev),
      attrStrz(VDPA_ATTR_DEV_NAME, name),
    ]);
  }

  /** VDPA_CMD_DEV_DEL: detaches vDPA device `name`; the VDUSE device must still be served meanwhile. */
  async deleteDevice(name: string): Promise<void> {
    await this.#vdpaDoit('DEV_DEL', VDPA_CMD_DEV_DEL, { subject: name }, [attrStrz(VDPA_ATTR_DEV_NAME, name)]);
  }

  /** VDPA_CMD_DEV_GET dump: the names of every vDPA device. */
  async listDevices(): Promise<string[]> {
    const replies = await this.#vdpaDump('DEV_GET', VDPA_CMD_DEV_GET);
    return replies.flatMap((r) => {
      const a = findAttr(decodeGenlMessage(r).attrs, VDPA_ATTR_DEV_NAME);
      return a === undefined ? [] : [attrString(a)];
    });
  }

  /** VDPA_CMD_MGMTDEV_GET dump: management devices as `bus/dev`, or `dev` when busless ("vduse"). */
  async listManagementDevices(): Promise<string[]> {
    const replies = await this.#vdpaDump('MGMTDEV_GET', VDPA_CMD_MGMTDEV_GET);
    return replies.flatMap((r) => {
      const attrs = decodeGenlMessage(r).attrs;
      const dev = findAttr(attrs, VDPA_ATTR_MGMTDEV_DEV_NAME);
      const bus = findAttr(attrs, VDPA_ATTR_MGMTDEV_BUS_NAME);
      if (dev === undefined) return [];
      return [bus === undefined ? attrString(dev) : `${attrString(bus)}/${attrString(dev)}`];
    });
  }

  /** Closes the socket once any request in flight has finished (its fd must not be reused under it). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#queue.finally(() => this.#socket.close());
  }

  async #vdpaDoit(op: VdpaOperation, cmd: number, context: VdpaErrorContext, attrs: Uint8Array[]): Promise<void> {
    const family = await this.resolveFamily(VDPA_GENL_NAME);
    const seq = this.#nextSeq();
    const message = encodeGenlMessage(
      { type: family, flags: NLM_F_REQUEST | NLM_F_ACK, seq },
      { cmd, version: VDPA_GENL_VERSION },
      attrs,
    );
    await this.#transact({ op, context, message, seq, dump: false });
  }

  async #vdpaDump(op: VdpaOperation, cmd: number): Promise<NetlinkMessage[]> {
    const family = await this.resolveFamily(VDPA_GENL_NAME);
    const seq = this.#nextSeq();
    // No NLM_F_ACK: a dump ends with NLMSG_DONE, and errors come as NLMSG_ERROR regardless.
    const message = encodeGenlMessage({ type: family, flags: NLM_F_REQUEST | NLM_F_DUMP, seq }, {
      cmd,
      version: VDPA_GENL_VERSION,
    });
    return this.#transact({ op, context: {}, message, seq, dump: true });
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  /** Queues a request behind any in flight, so each reads only its own replies. */
  #transact(req: Request): Promise<NetlinkMessage[]> {
    if (this.#closed) return Promise.reject(new Error('VdpaNetlink is closed'));
    const run = this.#queue.then(() => this.#exchange(req));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Sends, then reads until the ack (doit) or NLMSG_DONE (dump); the replies before it are returned. */
  async #exchange(req: Request): Promise<NetlinkMessage[]> {
    await this.#socket.send(req.message);
    try {
      return await this.#receive(req);
    } catch (err) {
      if (err instanceof NetlinkDecodeError) throw this.#protocolError(req, err.message, err);
      throw err;
    }
  }

  async #receive(req: Request): Promise<NetlinkMessage[]> {
    const replies: NetlinkMessage[] = [];
    for (;;) {
      // A fresh buffer per datagram: the messages returned are views into it.
      const buffer = new Uint8Array(RECV_BUFFER_SIZE);
      const length = await this.#socket.recv(buffer);
      if (length <= 0) throw this.#protocolError(req, `recv returned ${length} before the kernel's answer`);
      for (const msg of splitMessages(buffer.subarray(0, length))) {
        // Replies to an earlier, abandoned request carry another sequence number.
        if (msg.header.seq !== req.seq || msg.header.type === NLMSG_NOOP) continue;
        if (msg.header.type === NLMSG_ERROR) {
          const { error, extack } = decodeError(msg);
          if (error !== 0) throw new VdpaNetlinkError(req.op, -error, req.context, extack.msg);
          return replies;
        }
        if (msg.header.type === NLMSG_DONE && req.dump) {
          const { error, extack } = decodeDone(msg);
          if (error !== 0) throw new VdpaNetlinkError(req.op, -error, req.context, extack.msg);
          return replies;
        }
        if (msg.header.type === NLMSG_OVERRUN) throw this.#protocolError(req, 'NLMSG_OVERRUN: replies were lost');
        replies.push(msg);
      }
    }
  }

  #protocolError(req: Request, detail: string, cause?: unknown): VdpaNetlinkError {
    return new VdpaNetlinkError(req.op, EPROTO, req.context, undefined, {
      cause,
      detail: `vdpa ${req.op}: malformed netlink reply: ${detail}`,
    });
  }
}
