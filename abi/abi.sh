#!/bin/sh
# abi.sh - the ABI of each installed library against its baseline,
# abi/<library>.abi: `make abi-check` and `make abi-update` run it from
# the build directory.
#
# Usage: abi.sh check|update SRCDIR LIBRARY.la...
#
# For each library, abidw (libabigail) writes its ABI as the build made
# it to abi-current/<library>.abi: the exported functions and the types
# they reach, read from the debug info (build with -g: configure's default
# CFLAGS has it), with nothing that depends on where or how it was built
# (no paths, source locations, DT_NEEDED list): two builds of one source
# in different directories write the same file.
#
# check: abidiff compares it with abi/<library>.abi, with the suppressions
#   of abi/osevent.abignore (another library's type, reached by pointer).
#   Fails when a function or variable of the baseline is gone or changed
#   (its type, or a type it reaches: abidiff cannot tell a harmless change
#   from a harmful one, so a person decides and refreshes the baseline),
#   and when a library has no baseline at all.  Functions added since the
#   baseline are compatible: reported, and with ABI_STRICT=1 in the
#   environment a failure too.  A baseline of a library this build does
#   not have (its loop was not found) is reported, not checked.
# update: copies abi-current/<library>.abi over abi/<library>.abi in the
#   source tree, for a deliberate change (commit the result).
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: $0 check|update SRCDIR LIBRARY.la..." >&2
    exit 2
fi
mode=$1 srcdir=$2
shift 2
case $mode in
check | update) ;;
*) echo "abi: unknown mode $mode (check or update)" >&2; exit 2 ;;
esac
for tool in abidw abidiff readelf; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "abi: $tool not found: install abigail-tools and binutils" >&2
        exit 1
    fi
done
out=abi-current
mkdir -p "$out"
supp="$srcdir/abi/osevent.abignore"
# The source files' names in the debug info start with the path configure
# was run by ("../../lib/ctx.c"): keep what is relative to the source tree.
srcpat=$(printf '%s/' "$srcdir" | sed 's/[][\.*^$|/]/\\&/g')

built="" missing="" broken="" changed="" added=""
for la in "$@"; do
    name=$(basename "$la" .la)
    built="$built $name"
    dlname=$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$la")
    so="$(dirname "$la")/.libs/$dlname"
    if [ -z "$dlname" ] || [ ! -f "$so" ]; then
        echo "abi: $name: no shared library built from $la"
        broken="$broken $name"
        continue
    fi
    if ! readelf -S --wide "$so" | grep -q '\.debug_info'; then
        echo "abi: $name: $so has no debug info: build with -g"
        broken="$broken $name"
        continue
    fi
    cur="$out/$name.abi"
    if ! abidw --no-corpus-path --no-comp-dir-path --no-show-locs \
            --no-elf-needed --exported-interfaces-only --drop-private-types \
            --headers-dir "$srcdir/include" --type-id-style hash \
            --out-file "$cur.tmp" "$so"; then
        echo "abi: $name: abidw failed on $so"
        broken="$broken $name"
        continue
    fi
    sed "s/ path='$srcpat/ path='/" "$cur.tmp" >"$cur"
    rm -f "$cur.tmp"
    base="$srcdir/abi/$name.abi"

    if [ "$mode" = update ]; then
        if [ -f "$base" ] && cmp -s "$cur" "$base"; then
            echo "abi: $name: abi/$name.abi unchanged"
        else
            cp "$cur" "$base"
            echo "abi: $name: abi/$name.abi written"
        fi
        continue
    fi

    if [ ! -f "$base" ]; then
        echo "abi: $name: no baseline abi/$name.abi"
        missing="$missing $name"
        continue
    fi
    # First without the additions: anything left is a removal or a change.
    rc=0
    abidiff --no-added-syms --suppressions "$supp" "$base" "$cur" \
        >"$out/$name.diff" 2>&1 || rc=$?
    if [ $((rc & 3)) -ne 0 ]; then
        cat "$out/$name.diff"
        echo "abi: $name: abidiff failed (status $rc)"
        broken="$broken $name"
        continue
    fi
    if [ "$rc" -ne 0 ]; then
        cat "$out/$name.diff"
        if [ $((rc & 8)) -ne 0 ]; then
            echo "abi: $name: INCOMPATIBLE with abi/$name.abi: interfaces removed"
        else
            echo "abi: $name: CHANGED from abi/$name.abi: interfaces changed"
        fi
        changed="$changed $name"
        continue
    fi
    rc=0
    abidiff --suppressions "$supp" "$base" "$cur" >"$out/$name.diff" 2>&1 ||
        rc=$?
    if [ "$rc" -ne 0 ]; then
        sed -n 's/^  \[A\] /  added: /p' "$out/$name.diff"
        echo "abi: $name: compatible with abi/$name.abi, with additions"
        added="$added $name"
    else
        echo "abi: $name: as abi/$name.abi"
    fi
done

[ "$mode" = update ] && { [ -z "$broken" ] || exit 1; exit 0; }

for base in "$srcdir"/abi/*.abi; do
    [ -f "$base" ] || continue
    name=$(basename "$base" .abi)
    case " $built " in
    *" $name "*) ;;
    *) echo "abi: $name: not built here, its baseline not checked" ;;
    esac
done

status=0
if [ -n "$changed" ]; then
    echo "abi: FAIL:$changed: the ABI of the baseline changed.  If that is"
    echo "abi:   deliberate: \`make abi-update\`, commit abi/, and at the next"
    echo "abi:   release current++, revision = 0, and age = 0 (Makefile.am),"
    echo "abi:   unless every change is compatible by the header's rules (a"
    echo "abi:   struct passed with its size, grown at its end): then age++."
    status=1
fi
if [ -n "$missing" ]; then
    echo "abi: FAIL:$missing: no baseline.  Review the library's ABI, then"
    echo "abi:   \`make abi-update\` and commit abi/."
    status=1
fi
if [ -n "$broken" ]; then
    echo "abi: FAIL:$broken: could not be checked (see above)"
    status=1
fi
if [ -n "$added" ]; then
    echo "abi: note:$added: interfaces added since the baseline (compatible;"
    echo "abi:   at the next release current++, revision = 0, age++).  Record"
    echo "abi:   them with \`make abi-update\`."
    if [ "${ABI_STRICT:-0}" = 1 ]; then
        echo "abi: FAIL: ABI_STRICT=1 and the baselines are not up to date"
        status=1
    fi
fi
[ "$status" -eq 0 ] && echo "abi: every library built matches its baseline"
exit "$status"
