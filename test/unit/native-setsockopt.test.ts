/** setsockoptInt: the netlink client turns on NETLINK_EXT_ACK / NETLINK_CAP_ACK with it. */
import t from 'tap';
import { native } from '../../src/shared/native.js';

const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

t.test('sets int options on a netlink socket and reports errors', async (t) => {
  const n = native();
  const { AF_NETLINK, SOCK_RAW, SOCK_CLOEXEC, NETLINK_GENERIC } = n.constants;
  const fd = n.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  t.teardown(() => n.close(fd));
  t.type(n.setsockoptInt, 'function');
  t.doesNotThrow(() => n.setsockoptInt!(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1), 'NETLINK_EXT_ACK');
  t.doesNotThrow(() => n.setsockoptInt!(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1), 'NETLINK_CAP_ACK');
  t.throws(() => n.setsockoptInt!(fd, SOL_NETLINK, 9999, 1), { syscall: 'setsockopt', errno: -92 } as Error & { syscall: string; errno: number },
    'an unknown option fails with ENOPROTOOPT');
  t.throws(() => n.setsockoptInt!(-1, SOL_NETLINK, NETLINK_EXT_ACK, 1), { code: 'EBADF' } as Error & { code: string }, 'a bad fd fails');
});
