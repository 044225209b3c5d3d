/**
 * VDUSE uapi constants (include/uapi/linux/vduse.h, Linux 6.1; see
 * reference/vduse-and-virtio-blk.md §1.2). ioctl numbers use the generic
 * `_IOC` encoding of x86_64, arm64 and riscv.
 */

export const VDUSE_BASE = 0x81;
export const VDUSE_API_VERSION = 0;
export const VDUSE_NAME_MAX = 256;

// Control fd (/dev/vduse/control).
export const VDUSE_GET_API_VERSION = 0x80088100;
export const VDUSE_SET_API_VERSION = 0x40088101;
export const VDUSE_CREATE_DEV = 0x41508102;
export const VDUSE_DESTROY_DEV = 0x41008103;

// Device fd (/dev/vduse/NAME).
export const VDUSE_IOTLB_GET_FD = 0xc0208110;
export const VDUSE_DEV_GET_FEATURES = 0x80088111;
export const VDUSE_DEV_SET_CONFIG = 0x40088112;
export const VDUSE_DEV_INJECT_CONFIG_IRQ = 0x00008113;
export const VDUSE_VQ_SETUP = 0x40208114;
export const VDUSE_VQ_GET_INFO = 0xc0308115;
export const VDUSE_VQ_SETUP_KICKFD = 0x40088116;
export const VDUSE_VQ_INJECT_IRQ = 0x40048117;
export const VDUSE_IOTLB_REG_UMEM = 0x40308118;
export const VDUSE_IOTLB_DEREG_UMEM = 0x40308119;
export const VDUSE_IOTLB_GET_INFO = 0xc030811a;

// IOTLB permissions.
export const VDUSE_ACCESS_RO = 1;
export const VDUSE_ACCESS_WO = 2;
export const VDUSE_ACCESS_RW = 3;

export const VDUSE_EVENTFD_DEASSIGN = -1;

// Control messages read from the device fd.
export const VDUSE_GET_VQ_STATE = 0;
export const VDUSE_SET_STATUS = 1;
export const VDUSE_UPDATE_IOTLB = 2;

export const VDUSE_REQ_RESULT_OK = 0;
export const VDUSE_REQ_RESULT_FAILED = 1;

/** Default `msg_timeout`: the kernel marks the device broken after this many seconds without a reply. */
export const VDUSE_MSG_DEFAULT_TIMEOUT_S = 30;

export const VDUSE_CONTROL_PATH = '/dev/vduse/control';
/** Path of a device's node. */
export function vduseDevicePath(name: string): string {
  return `/dev/vduse/${name}`;
}
