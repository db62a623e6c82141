#!/usr/bin/env bash
# Install everything ptefarm needs on a fresh Debian machine (idempotent): system packages,
# npm dependencies, the compiled CLI (dist/) and the native executor. Root-only set-up is a separate
# step (`npx ptefarm setup`: zram swap, khugepaged throttled), which .ci/run calls explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

pkgs=()
command -v cc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || pkgs+=(make)
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || pkgs+=(nats-server)
# qemu: targets (QEMU TCG, the arm64 cross compiler for the guest executor, initramfs tools)
command -v qemu-system-x86_64 >/dev/null 2>&1 || pkgs+=(qemu-system-x86)
command -v qemu-system-aarch64 >/dev/null 2>&1 || pkgs+=(qemu-system-arm)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v cpio >/dev/null 2>&1 || pkgs+=(cpio)
# `ptefarm selftests fetch` unpacks Debian's linux-source-*.tar.xz
command -v xz >/dev/null 2>&1 || pkgs+=(xz-utils)
# ... and its `make headers_install` copies the uapi headers with rsync (not on every fresh machine)
command -v rsync >/dev/null 2>&1 || pkgs+=(rsync)
# modinfo resolves the guest kernel modules' dependencies (zram, virtio) for the QEMU images
command -v modinfo >/dev/null 2>&1 || [ -x /sbin/modinfo ] || pkgs+=(kmod)
# tests: the JUnit report read back by real consumers (test/report/junit.test.ts): Debian's
# junitparser (in the system python's dist-packages) and xmllint against the Jenkins JUnit schema
/usr/bin/python3 -c 'import junitparser' >/dev/null 2>&1 || pkgs+=(python3-junitparser)
command -v xmllint >/dev/null 2>&1 || pkgs+=(libxml2-utils)
# the matrix's Markdown rendered by a real GFM renderer (test/matrix/ci-kernels.test.ts)
command -v cmark-gfm >/dev/null 2>&1 || pkgs+=(cmark-gfm)
# ... and its JSON validated against docs/matrix.schema.json by a real JSON Schema validator
/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 || pkgs+=(python3-jsonschema)
for p in ${PTEFARM_EXTRA_APT:-}; do pkgs+=("$p"); done
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "install: apt packages: ${pkgs[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

echo "install: npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "install: compile the TypeScript to dist/ (what bin/ptefarm.mjs runs)"
npm run -s build

echo "install: native executor"
make -s -C workers/executor
