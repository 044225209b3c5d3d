#!/usr/bin/env bash
# Prepare everything the real-kernel VM harness needs, idempotently:
#   1. host packages (QEMU, busybox-static, fio, e2fsprogs, kmod, iproute2, ...)
#   2. Debian 13 (trixie) stock kernel, fetched with a PRIVATE apt config
#      (the system's apt configuration is never modified)
#   3. the guest kernel's modules, decompressed, with a depmod index
#   4. a busybox initramfs (test/vm/guest/init + stage2.sh + modules)
# Everything lands in ${VDUSE_VM_CACHE:-$HOME/.cache/vduse-blk-vm}, outside
# the repo. On success it prints the path of "$CACHE/current.env", a shell
# fragment with VM_KVER, VM_KERNEL, VM_INITRD, VM_MODDIR, VM_KROOT.
#
# Knobs:
#   VDUSE_VM_CACHE    cache directory
#   VDUSE_VM_REFRESH  1: re-resolve the newest trixie kernel even if cached
#   VDUSE_VM_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   VDUSE_VM_SUITE    suite to take the kernel from (default trixie)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${VDUSE_VM_CACHE:-$HOME/.cache/vduse-blk-vm}"
MIRROR="${VDUSE_VM_MIRROR:-http://deb.debian.org/debian}"
SUITE="${VDUSE_VM_SUITE:-trixie}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[vm-setup] %s\n' "$*" >&2; }
die() { printf '[vm-setup] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot install packages"
  SUDO=(sudo -n)
fi

# Modules loaded by the initramfs (dependencies are added, in order, by
# modprobe --show-depends). crc32c_generic first: ext4/jbd2 ask the crypto
# layer for crc32c at mount time and nothing can load it on demand there.
LOAD_MODULES="crc32c_generic ext4 9p 9pnet_virtio vduse virtio_vdpa virtio_blk"

# ---------------------------------------------------------------- packages
# package:command-or-file that proves it is installed
PKGS="qemu-system-x86:/usr/bin/qemu-system-x86_64
qemu-system-common:/usr/bin/qemu-storage-daemon
busybox-static:/bin/busybox
fio:/usr/bin/fio
e2fsprogs:/sbin/mkfs.ext4
xz-utils:/usr/bin/xz
kmod:/sbin/depmod
iproute2:/sbin/vdpa
util-linux:/usr/bin/setsid
coreutils:/usr/bin/timeout
procps:/usr/bin/pkill"
missing=()
while IFS=: read -r pkg probe; do
  if [ ! -e "$probe" ] || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done <<<"$PKGS"
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing host packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      --no-install-recommends "${missing[@]}" </dev/null >&2
fi
# busybox-static's binary must really be static: it runs in the initramfs.
BUSYBOX=/bin/busybox
file_out="$(LC_ALL=C od -An -c -N4 "$BUSYBOX" | tr -d ' ')"
[ "$file_out" = "177ELF" ] || die "$BUSYBOX is not an ELF binary"

mkdir -p "$CACHE"
exec 9>"$CACHE/.setup.lock"
flock 9   # two setups at once (e.g. two shells) must not race on the cache

# ---------------------------------------------------------------- kernel
APTDIR="$CACHE/apt"
# A private sources list, state, lists and cache: nothing under /etc/apt
# or /var/lib/apt is read for sources or written.
PRIVATE_APT_OPTS=(
  -o Dir::Etc::SourceList="$APTDIR/sources.list"
  -o Dir::Etc::SourceParts="$APTDIR/sources.list.d"
  -o Dir::Etc::Preferences="$APTDIR/preferences"
  -o Dir::Etc::PreferencesParts="$APTDIR/preferences.d"
  -o Dir::State="$APTDIR/state"
  -o Dir::State::Lists="$APTDIR/lists"
  -o Dir::State::status="$APTDIR/status"
  -o Dir::Cache="$APTDIR/cache"
  -o APT::Architectures::=amd64 -o APT::Architecture=amd64
)
apt_private() {
  apt-get -qq \
    "${PRIVATE_APT_OPTS[@]}" \
    -o Acquire::Languages=none \
    -o APT::Sandbox::User=root \
    -o Debug::NoLocking=1 \
    "$@"
}
apt_cache_private() {
  apt-cache \
    "${PRIVATE_APT_OPTS[@]}" \
    "$@"
}

fetch_kernel() {
  mkdir -p "$APTDIR"/{sources.list.d,preferences.d,state,lists/partial,cache/archives/partial,debs}
  : >"$APTDIR/status"
  : >"$APTDIR/preferences"
  echo "deb [arch=amd64 signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/sources.list"
  log "apt-get update (private, $SUITE)"
  apt_private update </dev/null >&2
  local pkg
  pkg="$(apt_cache_private depends linux-image-amd64 \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)"
  [ -n "$pkg" ] || die "could not resolve linux-image-amd64 in $SUITE"
  local kver="${pkg#linux-image-}"
  kver="${kver%-unsigned}"
  log "kernel package: $pkg (version $kver)"
  local kroot="$CACHE/kernel/$kver"
  if [ ! -e "$kroot/.unpacked" ]; then
    rm -rf "$APTDIR/debs"; mkdir -p "$APTDIR/debs"
    (cd "$APTDIR/debs" && apt_private download "$pkg" </dev/null >&2)
    local deb
    deb="$(ls "$APTDIR"/debs/*.deb | head -n1)"
    [ -f "$deb" ] || die "download of $pkg failed"
    rm -rf "$kroot"; mkdir -p "$kroot"
    log "unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$kroot/root"
    [ -f "$kroot/root/boot/vmlinuz-$kver" ] || die "no vmlinuz-$kver in $deb"
    # modules.dep & co. are made by the package's postinst; make them here so
    # modprobe works (host-side to compute load order, guest-side for extras).
    local base="$kroot/root"
    [ -d "$kroot/root/usr/lib/modules/$kver" ] && base="$kroot/root/usr"   # merged /usr
    [ -d "$base/lib/modules/$kver" ] || die "no lib/modules/$kver in $deb"
    depmod -b "$base" "$kver"
    rm -f "$deb"
    touch "$kroot/.unpacked"
  fi
  echo "$kver" >"$CACHE/kernel.version"
  # Keep only the current kernel.
  local d
  for d in "$CACHE"/kernel/*/; do
    [ "$(basename "$d")" = "$kver" ] || rm -rf "$d" "$CACHE/modules-$(basename "$d")"
  done
}

KVER=""
[ -s "$CACHE/kernel.version" ] && KVER="$(cat "$CACHE/kernel.version")"
if [ -z "$KVER" ] || [ ! -e "$CACHE/kernel/$KVER/.unpacked" ] || [ "${VDUSE_VM_REFRESH:-0}" = 1 ]; then
  fetch_kernel
  KVER="$(cat "$CACHE/kernel.version")"
fi
KROOT="$CACHE/kernel/$KVER/root"
# The base directory that holds lib/modules/$KVER (usr/ on merged-/usr).
MODBASE="$KROOT"
[ -d "$KROOT/usr/lib/modules/$KVER" ] && MODBASE="$KROOT/usr"
VMLINUZ="$KROOT/boot/vmlinuz-$KVER"

# ---------------------------------------------------------------- initramfs
# Rebuilt whenever the kernel, busybox, the init scripts or this file change.
stamp="$( { echo "$KVER $LOAD_MODULES"; cat "$HERE/setup.sh" "$HERE/guest/init" "$HERE/guest/stage2.sh"; \
           stat -c '%s %Y' "$BUSYBOX"; } | sha256sum | cut -c1-16)"
INITRD="$CACHE/initrd-$KVER-$stamp.cpio"
MODDIR="$CACHE/modules-$KVER"   # decompressed .ko files (also used by the guest)

if [ ! -s "$INITRD" ]; then
  log "building initramfs for $KVER"
  # Load order: modprobe resolves dependencies from the depmod index.
  order=()
  for m in $LOAD_MODULES; do
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      case " ${order[*]:-} " in *" $path "*) ;; *) order+=("$path") ;; esac
    done < <(modprobe -d "$MODBASE" -S "$KVER" --show-depends --ignore-install "$m")
  done
  [ "${#order[@]}" -gt 0 ] || die "modprobe resolved no modules"
  rm -rf "$MODDIR.tmp"; mkdir -p "$MODDIR.tmp"
  : >"$MODDIR.tmp/load-order"
  for p in "${order[@]}"; do
    base="$(basename "$p")"; name="${base%%.ko*}"
    case "$p" in
      *.ko.xz)  xz -dc "$p" >"$MODDIR.tmp/$name.ko" ;;
      *.ko.zst) zstd -qdc "$p" >"$MODDIR.tmp/$name.ko" ;;
      *.ko.gz)  gzip -dc "$p" >"$MODDIR.tmp/$name.ko" ;;
      *)        cp "$p" "$MODDIR.tmp/$name.ko" ;;
    esac
    echo "$name" >>"$MODDIR.tmp/load-order"
  done
  rm -rf "$MODDIR"; mv "$MODDIR.tmp" "$MODDIR"
  log "modules: $(tr '\n' ' ' <"$MODDIR/load-order")"

  work="$(mktemp -d "$CACHE/initrd.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,sbin,dev,proc,sys,newroot,lib/modules,etc,run}
  cp "$BUSYBOX" "$work/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$work/bin/$a"
  done
  cp "$MODDIR"/*.ko "$MODDIR/load-order" "$work/lib/modules/"
  install -m 0755 "$HERE/guest/init" "$work/init"
  install -m 0755 "$HERE/guest/stage2.sh" "$work/stage2.sh"
  echo "$KVER" >"$work/etc/kernel-version"
  # The kernel needs /dev/console in the initramfs to give init a console
  # before devtmpfs is mounted (newc archives carry device nodes).
  mknod -m 600 "$work/dev/console" c 5 1 2>/dev/null || true
  (cd "$work" && find . -print0 | LC_ALL=C sort -z \
     | "$BUSYBOX" cpio -o -H newc -0 >"$INITRD.tmp" 2>/dev/null)
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$work"; trap - EXIT
  # Keep only the newest initramfs.
  for f in "$CACHE"/initrd-*.cpio; do [ "$f" = "$INITRD" ] || rm -f "$f"; done
fi

cat >"$CACHE/current.env.tmp" <<EOF
VM_KVER=$KVER
VM_KERNEL=$VMLINUZ
VM_INITRD=$INITRD
VM_MODDIR=$MODDIR
VM_KROOT=$KROOT
VM_MODBASE=$MODBASE
VM_CACHE=$CACHE
EOF
mv "$CACHE/current.env.tmp" "$CACHE/current.env"
echo "$CACHE/current.env"
