/**
 * The generic-netlink socket VdpaNetlink talks through. The interface lets
 * tests put a fake kernel behind the client; the native one sends and
 * receives on libuv's thread pool (sendAsync / recvAsync), because
 * VDPA_CMD_DEV_NEW runs the whole driver probe inside the kernel's handling
 * of send(2), and that probe waits for VDUSE replies that only this
 * process's main thread can give (reference §1.10).
 */
import { native } from '../../shared/native.js';
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, SOL_NETLINK } from './constants.js';

export interface NetlinkSocket {
  /** Sends one whole message (datagram). */
  send(message: Uint8Array): Promise<void>;
  /** Receives one datagram into `buffer`; resolves with its length. */
  recv(buffer: Uint8Array): Promise<number>;
  close(): void;
}

/** An AF_NETLINK / NETLINK_GENERIC socket bound to a kernel-chosen port id. */
export function openNativeNetlinkSocket(): NetlinkSocket {
  const n = native();
  const c = n.constants;
  const fd = n.socket(c.AF_NETLINK, c.SOCK_RAW | c.SOCK_CLOEXEC, c.NETLINK_GENERIC);
  try {
    enableExtAck(fd);
    n.bindNetlink(fd, 0, 0);
  } catch (err) {
    n.close(fd);
    throw err;
  }
  let closed = false;
  return {
    async send(message) {
      const sent = await n.sendAsync(fd, message);
      // A netlink datagram goes whole or not at all; anything else is a broken socket.
      if (sent !== message.byteLength) throw new Error(`netlink send: ${sent} of ${message.byteLength} bytes sent`);
    },
    recv: (buffer) => n.recvAsync(fd, buffer),
    close() {
      if (closed) return;
      closed = true;
      n.close(fd);
    },
  };
}

/**
 * Extended acks carry the kernel's reason ("All provided attributes are not
 * supported", ...) and are sent only when NETLINK_EXT_ACK is set; CAP_ACK
 * stops the kernel echoing our request back inside every error. Both are
 * best effort: old kernels and an addon without setsockoptInt still work,
 * just with bare errno values.
 */
function enableExtAck(fd: number): void {
  const n = native();
  if (typeof n.setsockoptInt !== 'function') return;
  for (const option of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
    try {
      n.setsockoptInt(fd, SOL_NETLINK, option, 1);
    } catch {
      // ENOPROTOOPT on kernels older than 4.12 (EXT_ACK) or 4.3 (CAP_ACK).
    }
  }
}
