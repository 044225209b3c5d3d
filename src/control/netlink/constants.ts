/**
 * Netlink, generic netlink and vdpa uapi constants (include/uapi/linux/
 * netlink.h, genetlink.h, vdpa.h; reference §1.11). Names kept from the
 * headers so they can be grepped against the kernel.
 */

// linux/netlink.h
export const NETLINK_GENERIC = 16;
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
/** Netlink messages and attributes are padded to 4 bytes (NLMSG_ALIGNTO, NLA_ALIGNTO). */
export const NLMSG_ALIGNTO = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
// Modifiers of GET requests.
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Flags of NLMSG_ERROR acks (same bits as ROOT/MATCH, other meaning).
/** The request's payload was not echoed back (NETLINK_CAP_ACK, or error 0). */
export const NLM_F_CAPPED = 0x100;
/** Extended-ack TLVs follow the nlmsgerr (NETLINK_EXT_ACK was set and the kernel had something to say). */
export const NLM_F_ACK_TLVS = 0x200;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

// enum nlmsgerr_attrs
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

// Socket options (SOL_NETLINK level, linux/netlink.h and linux/socket.h).
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

// linux/genetlink.h
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const GENL_CTRL_NAME = 'nlctrl';
/** iproute2 (libmnl helpers) sends version 1 to the controller; the kernel ignores it. */
export const GENL_CTRL_REQUEST_VERSION = 1;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;

// linux/vdpa.h
export const VDPA_GENL_NAME = 'vdpa';
export const VDPA_GENL_VERSION = 1;
export const VDPA_CMD_MGMTDEV_NEW = 1;
export const VDPA_CMD_MGMTDEV_GET = 2;
export const VDPA_CMD_DEV_NEW = 3;
export const VDPA_CMD_DEV_DEL = 4;
export const VDPA_CMD_DEV_GET = 5;
export const VDPA_CMD_DEV_CONFIG_GET = 6;
export const VDPA_CMD_DEV_VSTATS_GET = 7;
export const VDPA_ATTR_MGMTDEV_BUS_NAME = 1;
export const VDPA_ATTR_MGMTDEV_DEV_NAME = 2;
export const VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES = 3;
export const VDPA_ATTR_DEV_NAME = 4;
export const VDPA_ATTR_DEV_ID = 5;
export const VDPA_ATTR_DEV_VENDOR_ID = 6;
export const VDPA_ATTR_DEV_MAX_VQS = 7;
export const VDPA_ATTR_DEV_MAX_VQ_SIZE = 8;
export const VDPA_ATTR_DEV_MIN_VQ_SIZE = 9;
export const VDPA_ATTR_DEV_NEGOTIATED_FEATURES = 14;
export const VDPA_ATTR_DEV_FEATURES = 20;

/** The management device VDUSE registers (no bus name: VDPA_ATTR_MGMTDEV_BUS_NAME must be omitted). */
export const VDUSE_MGMTDEV_NAME = 'vduse';
