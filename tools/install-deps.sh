#!/bin/sh
# Installs the Debian packages casyncio needs that are missing, with sudo
# when not root. `make deps` runs it; CI runs it on a fresh machine.
#
#   --cross   also what tests the aarch64 stack switch on other machines
#             (a cross compiler and qemu-user; about 500 MB): make deps-cross
set -eu
packages="gcc g++ make libev-dev libc-ares-dev libcmocka-dev python3 python3-jinja2 clang
libclang-rt-14-dev python3-uvloop netcat-openbsd musl-tools valgrind pkgconf cmake"
if [ "${1:-}" = "--cross" ]; then
    packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"
fi
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all installed"
    exit 0
fi
echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
