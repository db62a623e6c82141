#!/usr/bin/env bash
# Build the kernel's own mm selftests from Debian's linux-source package, statically, for the host
# and the QEMU guests (called by `ptefarm selftests fetch`, src/selftests/build.ts; idempotent; no root).
#
#   scripts/selftests-build.sh PACKAGE OUTDIR ARCHES NAME=SRC[,SRC...] ...
#
# PACKAGE is a Debian source package (linux-source-6.12); ARCHES a comma list (amd64,arm64; arm64 is
# skipped with a note when aarch64-linux-gnu-gcc is missing). Each NAME=SRC,... names a selftest and
# its sources under tools/testing/selftests/mm (the list lives in src/selftests/catalogue.ts). OUTDIR gets
#   ARCH/NAME          the static binary (absent when the source lacks NAME's first file or it failed)
#   ARCH/NAME.log      the compiler's output
#   src/...            tools/testing/selftests/mm of that source: what ran can be read
#   manifest.json      package, version, and per arch and selftest: built | absent | failed
# The source comes from /usr/src/PACKAGE.tar.xz when the package is installed, else from
# `apt-get download PACKAGE` as the invoking user. Kernel headers come from the source's own
# `make headers_install` (the host's linux-libc-dev is older than the selftests).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "selftests-build: $*" >&2; }
die() { say "$*"; exit 1; }

pkg=${1:?usage: selftests-build.sh PACKAGE OUTDIR ARCHES NAME=SRC,... ...}
out=${2:?outdir}
arches=${3:?arches}
shift 3
[ $# -gt 0 ] || die "no selftests named"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# the source tarball and its version
tarball=/usr/src/$pkg.tar.xz
if [ -f "$tarball" ]; then
  ver=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo unknown)
else
  say "downloading $pkg (apt-get download, no root)"
  chmod 777 "$work" 2>/dev/null || true
  (cd "$work" && apt-get download -qq "$pkg" >/dev/null) || die "cannot download $pkg (apt-get download $pkg; is a Debian mirror reachable?)"
  deb=$(ls "$work"/*.deb | head -1)
  ver=$(dpkg-deb -f "$deb" Version)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/src/$pkg.tar.xz"
  rm -f "$deb"
  tarball="$work/usr/src/$pkg.tar.xz"
fi

want="$pkg $ver $arches $* $(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/manifest.json" ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ]; then
  say "$out is up to date ($pkg $ver)"; exit 0
fi

# one pass over the archive (xz is the slow part): the selftests, and what headers_install needs
top=${pkg}
say "extracting $pkg $ver (selftests and what headers_install needs)"
tar -xJf "$tarball" -C "$work" --wildcards \
  "$top/Makefile" "$top/Kbuild" "$top/Kconfig" "$top/scripts/*" "$top/include/*" "$top/usr/*" \
  "$top/arch/x86/*" "$top/arch/arm64/*" "$top/tools/include/*" "$top/tools/arch/*" "$top/tools/lib/*" \
  "$top/tools/scripts/*" "$top/mm/gup_test.h" \
  "$top/tools/testing/selftests/mm/*" "$top/tools/testing/selftests/kselftest*"
ksrc="$work/$top"
mm="$ksrc/tools/testing/selftests/mm"
[ -d "$mm" ] || die "$pkg has no tools/testing/selftests/mm"

manifest="{ \"package\": \"$pkg\", \"version\": \"$ver\", \"built\": \"$(date -u +%FT%TZ)\", \"arches\": {"
first_arch=1
for arch in ${arches//,/ }; do
  case "$arch" in
    amd64) cc=gcc; karch=x86 ;;
    arm64) cc=aarch64-linux-gnu-gcc; karch=arm64 ;;
    *) die "unsupported arch $arch (amd64, arm64)" ;;
  esac
  entries=
  if ! command -v "$cc" >/dev/null 2>&1; then
    say "note: $cc missing: no $arch selftests (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
    for spec in "$@"; do entries="$entries${entries:+, }\"${spec%%=*}\": { \"state\": \"failed\", \"why\": \"$cc is not installed\" }"; done
  else
    say "headers_install ARCH=$karch"
    hdr="$work/hdr-$arch"
    make -s -j"$(nproc)" -C "$ksrc" ARCH="$karch" headers_install INSTALL_HDR_PATH="$hdr" > "$work/hdr-$arch.log" 2>&1 \
      || { tail -20 "$work/hdr-$arch.log" >&2; die "headers_install for $arch failed"; }
    rm -rf "$out/$arch.new"; mkdir -p "$out/$arch.new"
    for spec in "$@"; do
      name=${spec%%=*}; srcs=${spec#*=}
      first=${srcs%%,*}
      if [ ! -f "$mm/$first" ]; then
        entries="$entries${entries:+, }\"$name\": { \"state\": \"absent\", \"why\": \"$pkg has no tools/testing/selftests/mm/$first\" }"
        continue
      fi
      # the selftests' own flags (tools/testing/selftests/mm/Makefile), statically linked for the guest;
      # sources named relative to mm/ as its Makefile does: pagemap_ioctl.c creates __FILE__".tmp0"
      # files, which must land in the run's scratch directory, not in a build path gone by then
      if (cd "$mm" && "$cc" -Wall -O2 -U_FORTIFY_SOURCE -static -isystem "$hdr/include" -I "$ksrc/tools/testing/selftests" \
            -o "$out/$arch.new/$name" ${srcs//,/ } -lrt -lpthread -lm) > "$out/$arch.new/$name.log" 2>&1; then
        entries="$entries${entries:+, }\"$name\": { \"state\": \"built\" }"
      else
        say "$name ($arch) failed to build: see $out/$arch/$name.log"
        entries="$entries${entries:+, }\"$name\": { \"state\": \"failed\", \"why\": \"compile error (see $arch/$name.log)\" }"
      fi
    done
    rm -rf "$out/$arch"; mv "$out/$arch.new" "$out/$arch"
  fi
  manifest="$manifest$([ $first_arch = 1 ] || echo ,) \"$arch\": { $entries }"
  first_arch=0
done
manifest="$manifest } }"

rm -rf "$out/src"; mkdir -p "$out/src"
cp -r "$mm" "$out/src/mm"
cp "$ksrc"/tools/testing/selftests/kselftest*.h "$out/src/" 2>/dev/null || true
echo "$manifest" > "$out/manifest.json"
echo "$want" > "$out/.stamp"
say "ready: $out ($pkg $ver)"
