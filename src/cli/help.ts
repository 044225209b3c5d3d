/**
 * Help texts. Defaults and limits come from args.ts so the text cannot drift
 * from what the parser does; a unit test checks every flag is described.
 */
import {
  DEFAULT_LOG_LEVEL,
  DEFAULT_LOGICAL_BLOCK_SIZE,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_QUEUES,
  LOG_LEVELS,
  MAX_NAME_BYTES,
  MAX_POLL_MICROS,
  MAX_QUEUE_SIZE,
  MAX_QUEUES,
  MAX_SERIAL_BYTES,
  MIN_QUEUE_SIZE,
} from './args.js';

const KERNEL_NOTE = `Kernel requirements:
  Linux 5.15 or later built with CONFIG_VDPA_USER (the vduse module) and
  CONFIG_VIRTIO_VDPA; load them with:
      modprobe vduse virtio_vdpa
  The disk shows up as /dev/vdX through virtio_blk. Creating a device needs
  root (or access to /dev/vduse/control and the vdpa netlink interface).`;

export function topHelp(): string {
  return `Usage: vduse-blk <command> [options]

Serves a file as a virtio-blk disk to the local kernel through VDUSE
(vDPA Device in Userspace).

Commands:
  serve           create a VDUSE block device backed by a file and serve it
                  until stopped (SIGINT or SIGTERM)
  help [COMMAND]  show this help, or the help of COMMAND

Options:
  -h, --help      show this help
  --version       print the version and exit

Run 'vduse-blk serve --help' for the device options.

${KERNEL_NOTE}
`;
}

export function serveHelp(): string {
  return `Usage: vduse-blk serve --name NAME --file PATH [options]

Creates the VDUSE block device NAME backed by PATH, attaches it to the vDPA
bus so that the kernel binds virtio_blk to it, and serves its queues until
SIGINT or SIGTERM.

Required:
  --name NAME        device name, 1 to ${MAX_NAME_BYTES} characters of A-Z a-z 0-9 . _ -
                     (not '.' or '..'); used for /dev/vduse/NAME and as the
                     vdpa device name
  --file PATH        backing file; must exist unless --size is given

Device:
  --size N[K|M|G|T]  create PATH if missing and grow it (sparse) to N bytes if
                     smaller; units are binary (1K = 1024), case-insensitive;
                     must be a multiple of the logical block size.
                     Default: use the existing file's size
  --logical-block-size 512|1024|2048|4096
                     logical block size the guest sees (default ${DEFAULT_LOGICAL_BLOCK_SIZE})
  --serial STR       serial number returned by VIRTIO_BLK_T_GET_ID, up to ${MAX_SERIAL_BYTES}
                     printable ASCII characters (default: none)
  --readonly         expose a read-only disk; the file is opened read-only
                     (cannot be combined with --size)
  --writethrough     make every write stable before completing it, so the
                     disk has no volatile write cache (default: write-back,
                     made stable on flush)
  --no-discard       do not offer discard (default: offered; discarded ranges
                     are punched out of the file)

Queues and CPUs:
  --queues N         number of request queues, 1 to ${MAX_QUEUES} (default ${DEFAULT_QUEUES}); each
                     queue is served by its own worker thread. virtio_blk uses
                     at most one queue per CPU
  --queue-size N     entries per queue, a power of two from ${MIN_QUEUE_SIZE} to ${MAX_QUEUE_SIZE}
                     (default ${DEFAULT_QUEUE_SIZE})
  --cpus LIST        pin queue i's worker to the i-th CPU of LIST, round robin
                     when there are more queues than CPUs. LIST is like 2,3
                     or 4-7 or 0-3,8; every CPU must be online.
                     Default: workers are not pinned
  --no-irq-affinity  with --cpus, leave the kernel's choice of CPU for each
                     queue's completion interrupts (default: the queue's CPU)
  --poll-us N        after a queue runs dry, keep polling its ring for up to
                     N microseconds (0 to ${MAX_POLL_MICROS}) before sleeping on the kick:
                     fewer kicks and wake-ups, lower latency at low queue
                     depth. The window adapts: it follows the gaps between
                     requests and drops to 0 when they are longer than N,
                     so an idle queue does not spin (default 0: off)

Control:
  --no-attach        create the VDUSE device but do not attach it to the vDPA
                     bus; attach it yourself with
                         vdpa dev add name NAME mgmtdev vduse
  --log-level LEVEL  one of ${LOG_LEVELS.join(', ')}
                     (default ${DEFAULT_LOG_LEVEL}: one line per lifecycle event)
  -h, --help         show this help

Environment:
  VDUSE_BLK_IO=auto|sync|uring|threads
                     how the file is read and written. auto (default): on the
                     queue's own thread for a file on tmpfs, ramfs or
                     hugetlbfs; otherwise reads through io_uring and writes
                     on a thread pool (io_uring for both on a block device);
                     the thread pool where io_uring is refused

Examples:
  # a new 10 GiB sparse disk with 4 queues on CPUs 4 to 7
  vduse-blk serve --name disk0 --file /var/lib/disk0.img --size 10G \\
      --queues 4 --cpus 4-7
  # an existing image, read-only, with 4 KiB blocks
  vduse-blk serve --name base --file base.img --readonly \\
      --logical-block-size 4096
  # create now, attach later
  vduse-blk serve --name disk1 --file disk1.img --no-attach &
  vdpa dev add name disk1 mgmtdev vduse

${KERNEL_NOTE}
`;
}

export function versionText(version: string): string {
  return `vduse-blk ${version}\n`;
}
