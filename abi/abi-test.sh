#!/bin/sh
# abi-test.sh - abi/abi.sh gives the right verdict: on the core library of
# this build, against baselines made from its own ABI and then altered,
# it passes on the same ABI and on additions, and fails on a removed
# function, a changed struct, a missing baseline (and on additions with
# ABI_STRICT=1).  Skips (77) without abigail-tools or debug info.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
la="$top_builddir/lib/libosevent.la"
so=$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$la" 2>/dev/null || true)
so="$top_builddir/lib/.libs/$so"
for tool in abidw abidiff readelf; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "$tool not found: skipping"; exit 77; }
done
[ -f "$so" ] || { echo "no shared libosevent: skipping"; exit 77; }
readelf -S --wide "$so" | grep -q '\.debug_info' ||
    { echo "libosevent built without -g: skipping"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/osev-abi-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
abs_la=$(cd "$(dirname "$la")" && pwd)/$(basename "$la")
# A source tree of our own: the real headers and suppressions, baselines
# of our making.
mkdir -p "$tmp/src/abi" "$tmp/run"
ln -s "$(cd "$top_srcdir" && pwd)/include" "$tmp/src/include"
cp "$top_srcdir/abi/osevent.abignore" "$top_srcdir/abi/abi.sh" "$tmp/src/abi/"
run() { # MODE [ENV...]: abi.sh on the core, from $tmp/run
    mode=$1
    shift
    (cd "$tmp/run" && env "$@" sh "$tmp/src/abi/abi.sh" "$mode" "$tmp/src" \
        "$abs_la") >"$tmp/out" 2>&1
}
failed=0 n=0
expect() { # pass|fail WHAT MODE [ENV...]
    want=$1 what=$2
    shift 2
    n=$((n + 1))
    if run "$@"; then got=pass; else got=fail; fi
    if [ "$got" = "$want" ]; then
        echo "ok $n - $what: ${got}ed"
    else
        echo "not ok $n - $what: ${got}ed, should $want"
        sed 's/^/#   /' "$tmp/out"
        failed=$((failed + 1))
    fi
}

expect fail "no baseline yet" check
grep -q 'no baseline' "$tmp/out" || { echo "not ok: no 'no baseline' line"; failed=$((failed + 1)); }
expect pass "abi-update writes one" update
base="$tmp/src/abi/libosevent.abi"
[ -s "$base" ] || { echo "not ok: update wrote no baseline"; exit 1; }
cp "$base" "$tmp/orig.abi"
expect pass "the same ABI" check

# The baseline had a function the library no longer has: removed.
awk '/<elf-symbol name=.osev_now./ {
        print; sub(/osev_now/, "osev_gone"); print; next } { print }' \
    "$tmp/orig.abi" >"$tmp/x.abi"
awk '/<function-decl name=.osev_now. / { keep = 1 }
     keep { buf = buf $0 "\n" }
     { print }
     keep && /<\/function-decl>/ { keep = 0; b = buf; gsub(/osev_now/, "osev_gone", b); printf "%s", b; buf = "" }' \
    "$tmp/x.abi" >"$base"
expect fail "a function removed" check
grep -q 'INCOMPATIBLE' "$tmp/out" || { echo "not ok: not called incompatible"; failed=$((failed + 1)); }

# The baseline's struct osev_hooks was smaller: changed.
sed "/<class-decl name='osev_hooks' /s/size-in-bits='[0-9]*'/size-in-bits='64'/" \
    "$tmp/orig.abi" >"$base"
cmp -s "$base" "$tmp/orig.abi" && { echo "not ok: osev_hooks not found"; exit 1; }
expect fail "a struct changed" check

# The baseline lacked osev_now: added, compatible unless ABI_STRICT=1.
awk '/<elf-symbol name=.osev_now./ { next }
     /<function-decl name=.osev_now. / { skip = 1 }
     !skip { print }
     skip && /<\/function-decl>/ { skip = 0 }' "$tmp/orig.abi" >"$base"
expect pass "a function added" check
grep -q 'added: .*osev_now' "$tmp/out" || { echo "not ok: the addition is not named"; failed=$((failed + 1)); }
expect fail "a function added, ABI_STRICT=1" check ABI_STRICT=1

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
