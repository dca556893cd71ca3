#!/bin/sh
# Prints the comparison table: medians of times (noisy on a shared
# machine) and callgrind instruction counts (repeatable), for the same
# work done by hand and through osevent, in the same run.
# usage: bench/run-bench.sh BUILDDIR
set -eu
b=${1:-.}
prog="$b/bench/pull-bench"
lt="$b/libtool"
for shape in "64 4" "1024 16"; do
    # shellcheck disable=SC2086
    "$lt" --mode=execute "$prog" $shape 20000
    if command -v valgrind >/dev/null 2>&1; then
        for mode in hand osevent; do
            out=$(mktemp)
            # shellcheck disable=SC2086
            MODE=$mode "$lt" --mode=execute valgrind --tool=callgrind \
                --callgrind-out-file=/dev/null "$prog" $shape 2000 2>"$out" || true
            ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out")
            rm -f "$out"
            printf '  callgrind %-8s %14s instructions for 2000 rounds\n' "$mode" "$ir"
        done
    fi
done
