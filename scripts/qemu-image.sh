#!/usr/bin/env bash
# Build a QEMU guest image for the `qemu:` target (called by `ptefarm qemu fetch`; idempotent).
#
#   scripts/qemu-image.sh debian ARCH META_PACKAGE OUTDIR [PIN]   a Debian kernel, resolved through META_PACKAGE
#       PIN: a point release of the same line and flavour instead of the meta-package's current one:
#       `previous` (the newest release below the current one that apt lists) or a release as the
#       package names spell it (6.12.111+deb12, 6.1.0-47); resolved through apt-cache, never a list here
#   scripts/qemu-image.sh initramfs ARCH OUTDIR             only the initramfs (for kernel=PATH,arch=ARCH)
#
# ARCH is a Debian architecture (amd64 | arm64 | riscv64; riscv64 only for initramfs: a user's own
# kernel, since Debian ships no riscv64 kernel with the Svrsw60t59b soft-dirty/uffd-wp series). OUTDIR gets:
#   kernel       what QEMU boots: the PVH vmlinux extracted from the bzImage (amd64), the Image (arm64)
#   config       the kernel's config (CONFIG_MEM_SOFT_DIRTY etc.)
#   initrd.cpio  busybox + the executor built statically for ARCH + the modules the init needs
#   manifest.json
# The Debian kernel comes from apt (`apt-cache depends META` names the current package; nothing is
# pinned), busybox from busybox-static:ARCH, the executor from workers/executor/ptefarm-exec.c.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/workers/executor/ptefarm-exec.c"
export DEBIAN_FRONTEND=noninteractive
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
say() { echo "qemu-image: $*" >&2; }
die() { say "$*"; exit 1; }

mode=${1:?usage: qemu-image.sh debian ARCH META OUTDIR | initramfs ARCH OUTDIR}
arch=${2:?arch}
case "$arch" in
  amd64) cc=gcc; uname_arch=x86_64 ;;
  arm64) cc=aarch64-linux-gnu-gcc; uname_arch=aarch64 ;;
  riscv64) cc=riscv64-linux-gnu-gcc; uname_arch=riscv64 ;;
  *) die "unsupported arch $arch (amd64, arm64, riscv64)" ;;
esac
cross_pkg() { case "$arch" in amd64) echo gcc ;; arm64) echo gcc-aarch64-linux-gnu ;; riscv64) echo gcc-riscv64-linux-gnu ;; esac; }
cross_libc() { case "$arch" in arm64) echo libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/include ;; riscv64) echo libc6-dev-riscv64-cross:/usr/riscv64-linux-gnu/include ;; esac; }
pin=
if [ "$mode" = debian ]; then meta=${3:?meta package}; out=${4:?outdir}; pin=${5:-}; else meta=; out=${3:?outdir}; fi
case "$pin" in ''|previous) ;; *) [[ "$pin" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?([+-][0-9a-z.]+)?$ ]] || die "bad point release \"$pin\" (previous, or a release as in the package name: 6.12.111+deb12, 6.1.0-47)";; esac
# riscv64 became a Debian release architecture in 13 (trixie): before it, apt has no
# busybox-static:riscv64, so refuse before touching the package architectures
if [ "$arch" = riscv64 ]; then
  ver_id=$(. /etc/os-release 2>/dev/null; echo "${VERSION_ID:-0}")
  [ "${ver_id%%.*}" -ge 13 ] 2>/dev/null || die "riscv64 guest images need Debian 13 (trixie) or newer apt sources for busybox-static:riscv64 (this system: Debian ${ver_id}); the executor itself cross-builds with gcc-riscv64-linux-gnu"
  [ "$mode" = initramfs ] || die "no named riscv64 Debian image: use kernel=PATH,arch=riscv64 with your own kernel"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

host_arch=$(dpkg --print-architecture)
apt_updated=
apt_update() { [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }; }
need_cmd() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2"; apt_update; $SUDO apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need_cmd cpio cpio
need_cmd "$cc" "$(cross_pkg)"
if [ -n "$(cross_libc)" ]; then
  libc=$(cross_libc)
  [ -d "${libc#*:}" ] || { apt_update; $SUDO apt-get install -y -qq --no-install-recommends "${libc%%:*}" >/dev/null; }
fi
if [ "$arch" != "$host_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  say "enabling the $arch package architecture (multi-arch download)"
  $SUDO dpkg --add-architecture "$arch"; apt_updated=; apt_update
fi
pkgarch() { [ "$arch" = "$host_arch" ] && echo "$1" || echo "$1:$arch"; }

# the kernel package the meta-package currently depends on
pkg=; ver=
if [ -n "$meta" ]; then
  apt_update_if_missing() { apt-cache show "$(pkgarch "$meta")" >/dev/null 2>&1 || { apt_updated=; apt_update; }; }
  apt_update_if_missing
  pkg=$(apt-cache depends "$(pkgarch "$meta")" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}' | sed 's/:.*//')
  [ -n "$pkg" ] || die "cannot resolve $meta for $arch through apt-cache depends"
  if [ -n "$pin" ]; then
    # linux-image-<release>-<flavour>: the release is 6.12.118+deb12 or 6.1.0-57, the flavour amd64, rt-arm64, arm64-16k, ...
    cur=${pkg#linux-image-}
    rel=$(printf '%s\n' "$cur" | sed -E 's/^([0-9]+\.[0-9]+(\.[0-9]+)?(\+deb[0-9]+|-[0-9]+)?)-.*$/\1/')
    flavour=${cur#"$rel"-}
    line=$(printf '%s\n' "$rel" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
    # every release of the same line and flavour apt knows (signed images only; no -dbg, no -unsigned)
    avail=$(apt-cache search --names-only "^linux-image-${line//./\\.}[.-].*-${flavour}\$" 2>/dev/null | awk '{print $1}' | sed "s/^linux-image-//; s/-${flavour}\$//" | grep -E "^${line//./\\.}(\\.[0-9]+)?(\\+deb[0-9]+|-[0-9]+)?\$" | sort -uV)
    if [ "$pin" = previous ]; then
      want_rel=$(printf '%s\n' "$avail" | awk -v cur="$rel" '$0 == cur {print prev; exit} {prev = $0}')
      [ -n "$want_rel" ] || die "no point release of $line ($flavour) below $rel in apt (available: $(echo $avail | tr '\n' ' '))"
    else
      want_rel=$pin
      printf '%s\n' "$avail" | grep -qxF "$want_rel" || die "point release $want_rel of $line ($flavour) is not in apt (available: $(echo $avail | tr '\n' ' '))"
    fi
    say "pinned: $pkg -> linux-image-$want_rel-$flavour ($pin)"
    pkg="linux-image-$want_rel-$flavour"
  fi
  ver=$(apt-cache policy "$(pkgarch "$pkg")" | awk '/Candidate:/ {print $2}')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no candidate for $pkg"
fi
# the executor is ptefarm-exec.c and the headers it includes
exec_hash=$(sha256sum "$(dirname "$SRC")"/*.c "$(dirname "$SRC")"/*.h "$0" | sha256sum | cut -c1-16)
want="$pkg $ver $exec_hash"
if [ -f "$out/manifest.json" ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ]; then
  say "$out is up to date (${pkg:-initramfs} ${ver})"; exit 0
fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
dl() { # package[:arch] -> .deb path (apt-get download as the invoking user, into $work)
  chmod 777 "$work" 2>/dev/null || true
  apt-get download -qq "$1" >/dev/null 2>&1 || { apt_updated=; apt_update; apt-get download -qq "$1" >/dev/null; }
  ls "$work"/*.deb | grep -F "/${1%%:*}_" | head -1
}

say "busybox-static for $arch"
bbdeb=$(dl "$(pkgarch busybox-static)") || die "no busybox-static for $arch in this system's apt sources (riscv64 is a release architecture from Debian 13 trixie)"
[ -n "$bbdeb" ] || die "no busybox-static for $arch in this system's apt sources (riscv64 is a release architecture from Debian 13 trixie)"
mkdir bb && dpkg-deb -x "$bbdeb" bb && rm -f "$bbdeb"

release=
if [ -n "$pkg" ]; then
  say "downloading $pkg $ver ($arch)"
  kdeb=$(dl "$(pkgarch "$pkg")")
  mkdir k && dpkg-deb -x "$kdeb" k && rm -f "$kdeb"
  release=$(ls k/lib/modules | head -1)
  cp "k/boot/config-$release" "$out/config.new"
  vmlinuz="k/boot/vmlinuz-$release"
  if [ "$arch" = amd64 ]; then
    # PVH boot needs the uncompressed ELF: find the payload's compression magic and decompress it
    # (what the kernel's scripts/extract-vmlinux does).
    ok=
    for m in "28b52ffd zstd -dqc" "fd377a585a00 xz -dqc" "1f8b0800 gzip -dqc"; do
      set -- $m; magic=$1; shift
      for off in $(od -An -v -tx1 -w1 "$vmlinuz" | tr -d ' \n' | grep -bo "$magic" | cut -d: -f1); do
        [ $((off % 2)) -eq 0 ] || continue
        tail -c +$((off / 2 + 1)) "$vmlinuz" | "$@" > vmlinux 2>/dev/null || true
        if [ "$(head -c 4 vmlinux | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then ok=1; break 2; fi
      done
    done
    [ -n "$ok" ] || die "could not extract an ELF vmlinux from $vmlinuz"
    mv vmlinux "$out/kernel.new"
  else
    if [ "$(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then gzip -dc "$vmlinuz" > "$out/kernel.new"; else cp "$vmlinuz" "$out/kernel.new"; fi
  fi
fi

say "building the executor statically for $arch"
mkdir -p root/bin root/sbin root/lib/modules root/etc root/proc root/sys root/dev root/tmp root/usr/bin root/usr/sbin root/root
"$cc" -O2 -Wall -std=gnu11 -static -o root/bin/ptefarm-exec "$SRC" 2>&1 | grep -v "getpwnam\|in function .main" >&2 || true
[ -x root/bin/ptefarm-exec ] || die "executor build failed"
cp bb/bin/busybox root/bin/busybox
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > root/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > root/etc/group

# modules the init loads, with their dependencies (deps first); built-in ones are skipped
: > root/lib/modules/order
if [ -n "$release" ]; then
  # without modinfo the modules' dependencies are silently missing and the guest has no zram and
  # no virtio-serial channel: refuse instead of building a broken image
  PATH="$PATH:/sbin:/usr/sbin"
  command -v modinfo >/dev/null 2>&1 || { echo "qemu-image: modinfo is needed (apt-get install kmod; scripts/install.sh does)" >&2; exit 1; }
  mdir="k/lib/modules/$release"
  declare -A seen=()
  addmod() {
    local name=$1 f dep
    [ -z "${seen[$name]:-}" ] || return 0
    seen[$name]=1
    f=$(find "$mdir/kernel" \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" -o -name "$name.ko.gz" \) | head -1)
    if [ -z "$f" ]; then
      f=$(find "$mdir/kernel" \( -name "${name//_/-}.ko*" \) | head -1)
    fi
    if [ -z "$f" ]; then
      grep -q "/${name}.ko\$\|/${name//_/-}.ko\$" "$mdir/modules.builtin" 2>/dev/null || say "note: module $name not found (not built in either)"
      return 0
    fi
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do addmod "$dep"; done
    case "$f" in
      *.xz) xz -dc "$f" > "root/lib/modules/$name.ko" ;;
      *.zst) zstd -dqc "$f" > "root/lib/modules/$name.ko" ;;
      *.gz) gzip -dc "$f" > "root/lib/modules/$name.ko" ;;
      *) cp "$f" "root/lib/modules/$name.ko" ;;
    esac
    echo "$name" >> root/lib/modules/order
  }
  # zram swap (pageout), the virtio-serial executor channel, and the compressors zram may pick
  for m in zsmalloc zram lz4_compress lz4 lzo virtio virtio_ring virtio_pci virtio_console; do addmod "$m"; done
fi

cat > root/init <<'EOF'
#!/bin/busybox sh
# ptefarm guest init: mount, zram swap, THP like a stock host, then the executor on the channel.
/bin/busybox --install -s
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev; mount -t tmpfs tmpfs /tmp
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko 2>/dev/null; done
swap=0
if [ -e /sys/block/zram0 ]; then
  for a in lzo-rle lzo lz4; do echo $a > /sys/block/zram0/comp_algorithm 2>/dev/null && break; done
  echo 64M > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0 && swap=1
fi
thp=/sys/kernel/mm/transparent_hugepage
# a guest under 512 MiB of RAM starts with every THP flag cleared (hugepage_init); set them as on a stock host
echo madvise > $thp/enabled 2>/dev/null; echo madvise > $thp/defrag 2>/dev/null; echo never > $thp/shmem_enabled 2>/dev/null
echo 1 > $thp/use_zero_page 2>/dev/null; echo 1 > $thp/khugepaged/defrag 2>/dev/null
# khugepaged throttled as `ptefarm setup --khugepaged` does on a host: it must not collapse a case's range behind it
echo 3600000 > $thp/khugepaged/scan_sleep_millisecs 2>/dev/null; echo 3600000 > $thp/khugepaged/alloc_sleep_millisecs 2>/dev/null
echo 8 > $thp/khugepaged/pages_to_scan 2>/dev/null
# anon mTHP sizes asked for on the command line (ptefarm.mthp=16,64 or all; spec `,mthp=16K+64K`)
# and a shmem THP setting (ptefarm.shmem_thp=advise: a refusal test sets what the model does not cover)
for a in $(cat /proc/cmdline); do case $a in ptefarm.mthp=*) mthp=${a#ptefarm.mthp=};; ptefarm.shmem_thp=*) echo ${a#ptefarm.shmem_thp=} > $thp/shmem_enabled 2>/dev/null;; esac; done
if [ -n "$mthp" ]; then
  for d in $thp/hugepages-*kB; do
    kb=${d##*/hugepages-}; kb=${kb%kB}
    case ",$mthp," in *",all,"*|*",$kb,"*) [ "$d" = "$thp/hugepages-$(( $(cat $thp/hpage_pmd_size) / 1024 ))kB" ] || echo always > $d/enabled 2>/dev/null;; esac
  done
fi
sel() { sed -n 's/.*\[\(.*\)\].*/\1/p' $1 2>/dev/null || echo unavailable; }
port=
for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name 2>/dev/null)" = exec0 ] && port=/dev/${p##*/}; done
if [ -z "$port" ]; then port=/dev/ttyS1; stty -F $port raw -echo 2>/dev/null; fi
exec 3<>$port
echo "guest release=$(uname -r) arch=$(uname -m) swap=$swap thp=$(sel $thp/enabled) thp_shmem=$(sel $thp/shmem_enabled) thp_zero_page=$(cat $thp/use_zero_page 2>/dev/null) thp_defrag=$(sel $thp/defrag) port=$port" >&3
echo "ptefarm: executor on $port" > /dev/console
/bin/ptefarm-exec <&3 >&3 2>/dev/console
echo "ptefarm: executor exited ($?)" > /dev/console
poweroff -f
EOF
chmod 755 root/init
(cd root && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out/initrd.cpio.new"

[ -z "$release" ] || { mv "$out/kernel.new" "$out/kernel"; mv "$out/config.new" "$out/config"; }
mv "$out/initrd.cpio.new" "$out/initrd.cpio"
cat > "$out/manifest.json" <<EOF
{ "arch": "$arch", "uname_arch": "$uname_arch", "meta": "$meta", "pin": "$pin", "package": "$pkg", "version": "$ver",
  "release": "$release", "executor_hash": "$exec_hash", "built": "$(date -u +%FT%TZ)" }
EOF
echo "$want" > "$out/.stamp"
say "ready: $out (${pkg:-initramfs only} ${ver}, release ${release:-n/a})"
