/**
 * VdpaNetlinkError: a failed vdpa generic-netlink request, carrying the
 * kernel's errno, its name, the extended-ack text when the kernel gave one,
 * and a message that says what to do (reference §1.1, §1.11).
 */
import { constants } from 'node:os';
import { VduseBlkError } from '../../shared/errors.js';
import { VDPA_GENL_NAME } from './constants.js';

/** The request that failed, named after its genetlink command. */
export type VdpaOperation = 'GETFAMILY' | 'DEV_NEW' | 'DEV_DEL' | 'DEV_GET' | 'MGMTDEV_GET';

export interface VdpaErrorContext {
  /** The family name (GETFAMILY) or the vdpa device name (DEV_*). */
  subject?: string;
  /** The management device of DEV_NEW. */
  mgmtdev?: string;
}

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // Prefer the names the kernel's own headers use for aliased values.
  if (!errnoNames.has(value) || name === 'EOPNOTSUPP' || name === 'EAGAIN') errnoNames.set(value, name);
}

/** 'EEXIST' for 17, etc.; `E<n>` for a number the platform does not name. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

export const ENOENT = constants.errno.ENOENT;
export const EPROTO = constants.errno.EPROTO;

export class VdpaNetlinkError extends VduseBlkError {
  /** Positive errno, e.g. 17. */
  readonly errno: number;
  /** The kernel's NLMSGERR_ATTR_MSG, when it sent one. */
  readonly extack: string | undefined;
  readonly operation: VdpaOperation;

  constructor(
    operation: VdpaOperation,
    errno: number,
    context: VdpaErrorContext = {},
    extack?: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    const code = errnoName(errno);
    const base = options?.detail ?? describe(operation, code, context);
    const message = extack !== undefined && extack !== '' ? `${base} (kernel: ${extack})` : base;
    super(message, code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.errno = errno;
    this.extack = extack;
    this.operation = operation;
  }
}

/** What went wrong and what to do about it, for the errors the kernel actually returns here. */
function describe(op: VdpaOperation, code: string, ctx: VdpaErrorContext): string {
  const name = ctx.subject ?? '';
  const mgmtdev = ctx.mgmtdev ?? 'vduse';
  if (op === 'GETFAMILY' && code === 'ENOENT') {
    return name === VDPA_GENL_NAME || name === ''
      ? 'the vdpa generic netlink family is missing: load the vdpa and vduse modules (modprobe vduse virtio_vdpa)'
      : `the generic netlink family "${name}" is missing`;
  }
  const what = `vdpa ${op}${name === '' ? '' : ` '${name}'`}`;
  if (code === 'EPERM' || code === 'EACCES') {
    return `${what} needs CAP_NET_ADMIN (run as root or grant the capability) in the initial network namespace`;
  }
  if (op === 'DEV_NEW') {
    switch (code) {
      case 'EEXIST':
        return `${what}: a vDPA device of that name already exists (vdpa dev del ${name})`;
      case 'ENODEV':
        return `${what}: management device '${mgmtdev}' not found: load the vduse module (modprobe vduse)`;
      case 'EOPNOTSUPP':
        return `${what}: management device '${mgmtdev}' does not support the attributes sent`;
      case 'EINVAL':
        return `${what}: refused: no VDUSE device of that name, or a virtqueue without max_size (VDUSE_VQ_SETUP)`;
    }
  }
  if (op === 'DEV_DEL') {
    if (code === 'ENODEV') return `${what}: no vDPA device of that name`;
    if (code === 'EINVAL') return `${what}: the device was not created through vdpa netlink`;
  }
  return `${what} failed: ${code}`;
}
