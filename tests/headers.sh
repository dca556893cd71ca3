#!/bin/sh
# Every installed header compiles on its own, as C99 with -pedantic and
# as C++17 with -Wold-style-cast, warnings as errors: what a user's build
# with strict flags sees.  The loops' own headers are included as system
# headers (-isystem), so only osevent's are judged.  An adapter's header
# is tried where pkg-config (or, for libev, the compiler) finds its loop,
# with _POSIX_C_SOURCE set in C as strict C99 needs for the loops' own
# headers (libuv's uses pthread types); osevent.h needs nothing.
# osevent-version.h, which configure generates, is in the build tree
# (top_builddir/include), the others in the source tree.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
cc=${CC:-cc}
cxx=${CXX:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# The -isystem flags for a set of pkg-config modules; false if missing.
deps_cflags() {
    [ -z "$1" ] && return 0
    pkg-config --exists $1 2>/dev/null || return 1
    pkg-config --cflags $1 | sed 's/-I/-isystem /g'
}

try() { # LANG COMPILER FLAGS... : compile $tmp/t.LANG
    lang=$1 comp=$2
    shift 2
    if ! $comp "$@" -I"$top_srcdir/include" -I"$top_builddir/include" \
            -c "$tmp/t.$lang" \
            -o "$tmp/t.o" 2>"$tmp/err"; then
        echo "FAIL: $h as $lang:"
        cat "$tmp/err"
        fail=1
    fi
}

have_cxx=true
command -v "$cxx" >/dev/null 2>&1 || have_cxx=false
# Each header once, wherever it is (both trees are one in an in-tree build).
for h in $(for path in "$top_srcdir"/include/*.h "$top_builddir"/include/*.h; do
        [ -f "$path" ] && basename "$path"
    done | LC_ALL=C sort -u); do
    case $h in
    osevent.h | osevent-version.h) mods="" posix="" ;;
    osevent-glib.h) mods="glib-2.0" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-libevent.h) mods="libevent" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-libuv.h) mods="libuv" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-sdevent.h) mods="libsystemd" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-tevent.h) mods="tevent talloc" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-verto.h) mods="libverto" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-virt.h) mods="libvirt" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-libev.h) mods="" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-cares.h) mods="libcares" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-curl.h) mods="libcurl" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-dbus.h) mods="dbus-1" posix=-D_POSIX_C_SOURCE=200809L ;;
    osevent-qt.h) mods="" posix="" ;;
    osevent-wayland.h) mods="wayland-server" posix=-D_POSIX_C_SOURCE=200809L ;;
    *) echo "FAIL: $h: a header this test does not know"; fail=1; continue ;;
    esac
    if ! dflags=$(deps_cflags "$mods"); then
        echo "skip $h: $mods not found"
        continue
    fi
    # The probe uses the core's macros, as a caller would: a macro's
    # warning shows only where it is expanded.  osevent-version.h stands
    # alone (it has the version macros only), and its macros must work in
    # #if as well.
    if [ "$h" = osevent-version.h ]; then
        cat > "$tmp/t.c" <<PROBE
#include <$h>
#if OSEV_VERSION_HEX < 0 || OSEV_VERSION_MAJOR < 0 || OSEV_VERSION_MINOR < 0
#error "bad version macros"
#endif
int osev_header_probe(void);
int osev_header_probe(void)
{
    return OSEV_VERSION_STRING[0] == '\\0' || OSEV_VERSION_PATCH < 0;
}
PROBE
    else
        cat > "$tmp/t.c" <<PROBE
#include <$h>
int osev_header_probe(void);
int osev_header_probe(void)
{
    uint64_t mask = OSEV_EVENTMASK_ALL;
    unsigned flags = OSEV_CTX_SINGLE_THREAD | OSEV_CTX_BACKEND_POLL;
    osev_time t = OSEV_TIME_INFINITY - osev_ms(1) - osev_s(1);

    return mask == 0 || flags == 0 || t == 0 || OSEV_EVENT_TYPE_MAX == 0 ||
           OSEV_VERSION_HEX == 0xffffff;
}
PROBE
    fi
    if [ "$h" = osevent-libev.h ] &&
        ! $cc -E -x c "$tmp/t.c" -I"$top_srcdir/include" \
            -I"$top_builddir/include" >/dev/null 2>&1; then
        echo "skip $h: ev.h not found"
        continue
    fi
    # shellcheck disable=SC2086
    try c "$cc" -std=c99 -pedantic -Wall -Wextra -Werror $posix $dflags
    if $have_cxx; then
        cp "$tmp/t.c" "$tmp/t.cc"
        # shellcheck disable=SC2086
        try cc "$cxx" -std=c++17 -Wall -Wextra -Wold-style-cast -Werror \
            $dflags
    fi
    echo "ok $h"
done
$have_cxx || echo "no C++ compiler ($cxx): C++ not tried"
exit $fail
