#!/bin/sh
# `make check-install`: install into staging trees under BUILD, build and
# run a consumer of the installed library as its users would (pkg-config,
# shared and --static; CMake's find_package(casyncio CONFIG), shared and
# static), check the version requests the CMake package meets, then
# `make uninstall` and check that nothing of casyncio's is left.
#
#   tests/packaging/check-install.sh BUILD CC MAKE VERSION
#
# Two installs: with DESTDIR (PREFIX=/usr/local, the stage a package
# builder makes), and a plain one to a prefix under BUILD with a multiarch
# LIBDIR (lib/x86_64-linux-gnu here), deeper than lib/, so that the CMake
# package's relative paths are tried at another depth.
set -eu
build=$1
cc=$2
make=$3
version=$4
case $build in
    /*) out=$build/packaging ;;
    *) out=$(pwd)/$build/packaging ;;
esac
major=${version%%.*}
soname=libcasyncio.so.$major
warn="-std=c11 -Wall -Wextra -Werror"

fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
step() { echo "check-install: $*"; }
command -v pkg-config >/dev/null || fail "pkg-config is missing: make deps"
command -v cmake >/dev/null || fail "cmake is missing: make deps"

# What install must put in DIR (LIBDIR, INCLUDEDIR relative to it), sorted.
expected_files() {
    libdir=$1 includedir=$2
    {
        for f in libcasyncio.a libcasyncio.so.$version $soname libcasyncio.so \
                 pkgconfig/casyncio.pc cmake/casyncio/casyncio-config.cmake \
                 cmake/casyncio/casyncio-config-version.cmake; do
            echo "$libdir/$f"
        done
        echo "$includedir/casyncio.h"
        for h in include/casyncio/*.h generated/include/casyncio/*.h; do
            echo "$includedir/casyncio/${h##*/}"
        done
    } | sort
}

# Files and links under a tree, sorted.
files_in() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort); }

check_installed() {
    tree=$1 libdir=$2 includedir=$3
    expected_files "$libdir" "$includedir" > "$out/expected"
    files_in "$tree" > "$out/installed"
    diff -u "$out/expected" "$out/installed" || fail "install put other files than expected"
    [ "$(readlink "$tree$libdir/$soname")" = "libcasyncio.so.$version" ] ||
        fail "$soname does not point to libcasyncio.so.$version"
    [ "$(readlink "$tree$libdir/libcasyncio.so")" = "$soname" ] ||
        fail "libcasyncio.so does not point to $soname"
    readelf -dW "$tree$libdir/libcasyncio.so.$version" | grep -q "SONAME.*\[$soname\]" ||
        fail "libcasyncio.so.$version has no soname $soname"
    step "installed $(wc -l < "$out/installed") files; soname $soname"
}

check_uninstalled() {
    tree=$1 libdir=$2 includedir=$3
    left=$(files_in "$tree")
    [ -z "$left" ] || fail "uninstall left: $left"
    for d in "$tree$includedir/casyncio" "$tree$libdir/cmake/casyncio"; do
        [ ! -e "$d" ] || fail "uninstall left $d"
    done
    step "uninstalled: no file, link or directory of casyncio's left in $tree"
}

# Runs a consumer binary; shared: it must need the soname, found in LIBDIR.
run_consumer() {
    bin=$1 kind=$2 libdir=$3
    needed=$(readelf -dW "$bin" | grep NEEDED || true)
    case $kind in
        shared)
            echo "$needed" | grep -q "\[$soname\]" || fail "$bin does not need $soname"
            LD_LIBRARY_PATH=$libdir ldd "$bin" | grep -q "$soname => $libdir/" ||
                fail "$bin does not load $soname from $libdir" ;;
        static)
            echo "$needed" | grep -q casyncio && fail "$bin needs a shared casyncio"
            for dep in libev libcares; do
                echo "$needed" | grep -q "\[$dep\." || fail "$bin does not link $dep"
            done ;;
    esac
    LD_LIBRARY_PATH=$libdir timeout 60 "$bin" || fail "$bin failed"
}

pkg_config_consumer() {
    name=$1 libdir=$2
    flags=$(pkg-config --cflags casyncio)
    libs=$(pkg-config --libs casyncio)
    static_libs=$(pkg-config --static --libs casyncio)
    step "pkg-config --cflags --libs casyncio: $flags $libs"
    step "pkg-config --static --libs casyncio: $static_libs"
    [ "$(pkg-config --modversion casyncio)" = "$version" ] || fail "pkg-config: not version $version"
    case " $libs " in *" -lev "*|*" -lcares "*) fail "--libs names private libraries" ;; esac
    for lib in -lcasyncio -lev -lcares -lm -lpthread -ldl; do
        case " $static_libs " in *" $lib "*) ;; *) fail "--static --libs lacks $lib" ;; esac
    done
    # shellcheck disable=SC2086
    $cc $warn tests/packaging/consumer.c -o "$out/$name-shared" $flags $libs
    run_consumer "$out/$name-shared" shared "$libdir"
    # --static: the archive, though the shared library lies next to it.
    static_libs=$(echo " $static_libs " | sed 's| -lcasyncio | -Wl,-Bstatic -lcasyncio -Wl,-Bdynamic |')
    # shellcheck disable=SC2086
    $cc $warn tests/packaging/consumer.c -o "$out/$name-static" $flags $static_libs
    run_consumer "$out/$name-static" static "$libdir"
}

cmake_consumer() {
    name=$1 kind=$2 prefix=$3 libdir=$4
    dir=$out/cmake-$name-$kind
    rm -rf "$dir"
    use_static=OFF
    [ "$kind" = static ] && use_static=ON
    cmake -S tests/packaging -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCASYNCIO_USE_STATIC=$use_static \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$dir.log" 2>&1 ||
        { cat "$dir.log"; fail "cmake configure ($name, $kind)"; }
    grep -q "casyncio $version from $prefix/" "$dir.log" ||
        { cat "$dir.log"; fail "cmake found another casyncio than $prefix's"; }
    cmake --build "$dir" >> "$dir.log" 2>&1 || { cat "$dir.log"; fail "cmake build ($name, $kind)"; }
    step "cmake: casyncio::casyncio ($kind) from $prefix"
    run_consumer "$dir/consumer" "$kind" "$libdir"
}

cmake_versions() {
    prefix=$1
    minor=${version#*.}; minor=${minor%%.*}
    next_minor=$major.$((minor + 1))
    next_major=$((major + 1)).0
    cases="any=found;ptr4=missing;$major.$minor=found;$version=found;$major.0=found"
    cases="$cases;$next_minor=missing;$next_major=missing"
    cases="$cases;$major.$minor...<$next_major=found;$version...$version=found"
    cases="$cases;$major.0...<$version=missing;$next_major...$((major + 2)).0=missing"
    cases="$cases;components:shared,static=found;components:static=found;components:tls=missing"
    dir=$out/cmake-versions
    rm -rf "$dir"
    cmake -S tests/packaging/versions -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCASES="$cases" > "$dir.log" 2>&1 ||
        { cat "$dir.log"; fail "the CMake package's version checks"; }
    step "cmake: version and component requests met as expected ($(grep -c 'as expected' "$dir.log") cases)"
}

unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR DESTDIR LIBDIR INCLUDEDIR PKGCONFIGDIR CMAKEDIR
rm -rf "$out/stage" "$out/prefix"
mkdir -p "$out"

# 1. DESTDIR, PREFIX=/usr/local.
stage=$out/stage
step "make install DESTDIR=$stage PREFIX=/usr/local"
$make --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr/local > "$out/install.log" ||
    { cat "$out/install.log"; fail "make install"; }
check_installed "$stage" /usr/local/lib /usr/local/include
# The installed .pc names /usr/local; the sysroot is where it is staged.
export PKG_CONFIG_PATH="$stage/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
pkg_config_consumer stage "$stage/usr/local/lib"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cmake_consumer stage shared "$stage/usr/local" "$stage/usr/local/lib"
cmake_consumer stage static "$stage/usr/local" "$stage/usr/local/lib"
cmake_versions "$stage/usr/local"
step "make uninstall DESTDIR=$stage PREFIX=/usr/local"
$make --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr/local > "$out/uninstall.log" ||
    { cat "$out/uninstall.log"; fail "make uninstall"; }
check_uninstalled "$stage" /usr/local/lib /usr/local/include

# 2. A prefix of its own, LIBDIR lib/<multiarch> (which CMake searches as
# lib/<arch>) where the compiler names one, else lib64.
prefix=$out/prefix
multiarch=$($cc -print-multiarch 2>/dev/null || true)
libsub=lib64
[ -n "$multiarch" ] && libsub=lib/$multiarch
plib=$prefix/$libsub
step "make install PREFIX=$prefix LIBDIR=$plib"
$make --no-print-directory -s install PREFIX="$prefix" LIBDIR="$plib" > "$out/install.log" ||
    { cat "$out/install.log"; fail "make install"; }
check_installed "$prefix" "/$libsub" /include
grep -q "^libdir=\${prefix}/$libsub\$" "$plib/pkgconfig/casyncio.pc" ||
    fail "casyncio.pc: libdir is not \${prefix}/$libsub"
export PKG_CONFIG_PATH="$plib/pkgconfig"
pkg_config_consumer prefix "$plib"
unset PKG_CONFIG_PATH
cmake_consumer prefix static "$prefix" "$plib"
step "make uninstall PREFIX=$prefix LIBDIR=$plib"
$make --no-print-directory -s uninstall PREFIX="$prefix" LIBDIR="$plib" > "$out/uninstall.log" ||
    { cat "$out/uninstall.log"; fail "make uninstall"; }
check_uninstalled "$prefix" "/$libsub" /include
echo "check-install: passed"
