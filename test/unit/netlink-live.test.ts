// VdpaNetlink over a real NETLINK_GENERIC socket through the addon. Needs no
// root: resolving a family is unprivileged. Where the vdpa module is not
// loaded (CI hosts), the lookup must fail with the clear ENOENT error.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { VdpaNetlinkError } from '../../src/control/netlink/errors.js';
import { VdpaNetlink } from '../../src/control/netlink/vdpa.js';

const addon = fileURLToPath(new URL('../../../build/Release/vduse_native.node', import.meta.url));
const skip = existsSync(addon) ? false : 'the native addon is not built';

t.test('resolves nlctrl over a real socket', { skip }, async (t) => {
  const nl = await VdpaNetlink.open();
  t.teardown(() => nl.close());
  t.equal(await nl.resolveFamily('nlctrl'), 0x10, 'GENL_ID_CTRL');
});

t.test('the vdpa family: resolved, or a clear ENOENT', { skip }, async (t) => {
  const nl = await VdpaNetlink.open();
  t.teardown(() => nl.close());
  const vdpaLoaded = existsSync('/sys/bus/vdpa');
  const result = await nl.resolveFamily('vdpa').catch((e: unknown) => e);
  if (vdpaLoaded) {
    t.type(result, 'number', 'vdpa is loaded here');
    t.type(await nl.listDevices(), Array);
    return;
  }
  t.ok(result instanceof VdpaNetlinkError);
  t.match(result, {
    code: 'ENOENT',
    errno: 2,
    operation: 'GETFAMILY',
    message: 'the vdpa generic netlink family is missing: load the vdpa and vduse modules (modprobe vduse virtio_vdpa)',
  });
  t.match(await nl.listDevices().catch((e: unknown) => e), { code: 'ENOENT' }, 'commands fail the same way');
});

t.test('an unknown family', { skip }, async (t) => {
  const nl = await VdpaNetlink.open();
  t.teardown(() => nl.close());
  t.match(await nl.resolveFamily('nosuchfamily').catch((e: unknown) => e), {
    code: 'ENOENT',
    message: 'the generic netlink family "nosuchfamily" is missing',
  });
});
