#!/bin/sh
# The shared library, and a plugin with the static library linked in, load
# with dlopen() from a program that links neither (dlopen_test.c), run a
# loop with callbacks and tasks on two threads, and survive dlclose(): `make
# check-dlopen`. Both must need no static TLS (no initial-exec
# thread-locals): readelf shows no STATIC_TLS flag, and they are loaded with
# glibc's tunables leaving no static TLS to spare.
#
#   tests/packaging/check-dlopen.sh BUILD CC
#
# $cc, $warn, $inc: word lists, split on purpose.
# shellcheck disable=SC2086
set -eu
build=$1
cc=$2
out=$build/packaging
mkdir -p "$out"
warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -O1 -g"
inc="-D_GNU_SOURCE -Iinclude -Igenerated/include"

fail() { echo "check-dlopen: FAIL: $*" >&2; exit 1; }

# The loader: libc (and libdl, libpthread where they are apart) only.
$cc $warn $inc tests/packaging/dlopen_test.c -o "$out/dlopen_test" -ldl -pthread
readelf -dW "$out/dlopen_test" | grep -E 'NEEDED.*(casyncio|libev|cares)' &&
    fail "dlopen_test links casyncio or its dependencies"

# The plugin: the static library inside a shared object, its symbols kept
# in (--exclude-libs), unloadable by dlclose() only at the process's end
# (-z nodelete, as the shared library; README.md says why).
$cc $warn $inc -fPIC -shared tests/packaging/plugin.c -o "$out/plugin.so" \
    "$build/libcasyncio.a" -Wl,--exclude-libs,libcasyncio.a -Wl,-z,defs -Wl,-z,nodelete \
    -lev -lcares -lm -lpthread -ldl

for obj in "$build/libcasyncio.so" "$out/plugin.so"; do
    flags=$(readelf -dW "$obj" | grep -E '\((FLAGS|FLAGS_1)\)' || true)
    case $flags in
        *STATIC_TLS*) fail "$obj needs static TLS (initial-exec thread-locals): $flags" ;;
    esac
    readelf -SW "$obj" | grep -q -E '\.tbss|\.tdata' || fail "$obj has no TLS section"
    readelf -lW "$obj" | grep -q -E '^ *TLS ' || fail "$obj has no TLS segment"
    echo "check-dlopen: $obj: thread-locals, no STATIC_TLS flag"
done

# No room to spare in the static TLS block: an object with initial-exec
# thread-locals fails to load so (glibc 2.33 and later; older ones ignore the
# tunables), as ie_probe.so shows (a kilobyte of them; casyncio has some 800 bytes).
tight=glibc.rtld.nns=1:glibc.rtld.optional_static_tls=0
printf 'static __thread char tls[1024] __attribute__((tls_model("initial-exec")));\n%s\n' \
    'char *ie_probe(void); char *ie_probe(void) { return tls; }' > "$out/ie_probe.c"
$cc $warn -fPIC -shared "$out/ie_probe.c" -o "$out/ie_probe.so"
if GLIBC_TUNABLES=$tight "$out/dlopen_test" load "$out/ie_probe.so" >/dev/null; then
    echo "check-dlopen: note: this glibc found static TLS for ie_probe.so anyway;" \
         "the loads below prove less"
else
    echo "check-dlopen: as expected, an initial-exec object does not load with $tight:"
    GLIBC_TUNABLES=$tight "$out/dlopen_test" load "$out/ie_probe.so" | sed 's/^/    /' || true
fi
GLIBC_TUNABLES=$tight timeout 60 "$out/dlopen_test" lib "$build/libcasyncio.so" ||
    fail "dlopen of $build/libcasyncio.so"
GLIBC_TUNABLES=$tight timeout 60 "$out/dlopen_test" plugin "$out/plugin.so" ||
    fail "dlopen of $out/plugin.so"
echo "check-dlopen: passed"
