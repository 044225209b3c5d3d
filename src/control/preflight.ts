/** Checks that VDUSE can be used here, before anything is created or changed. */
import { accessSync, constants, existsSync } from 'node:fs';
import { VduseUnavailableError } from '../shared/errors.js';
import { VDUSE_CONTROL_PATH } from '../shared/vduse.js';

const HINT = 'load the vduse module (modprobe vduse virtio_vdpa); the kernel must be built with CONFIG_VDPA_USER';

/** Throws a VduseUnavailableError that says what is missing. `root` is for tests. */
export function checkVduseAvailable(root = ''): void {
  const control = root + VDUSE_CONTROL_PATH;
  if (!existsSync(control)) {
    const why = existsSync(`${root}/sys/module/vduse`) ? `${control} is missing although the vduse module is loaded`
      : `VDUSE is not available: ${control} does not exist`;
    throw new VduseUnavailableError(`${why}; ${HINT}`);
  }
  try {
    accessSync(control, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new VduseUnavailableError(`no permission to use ${control}: run as root (attaching also needs CAP_NET_ADMIN)`,
      { cause: err });
  }
}
