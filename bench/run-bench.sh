#!/bin/sh
# Prints the comparison tables: medians of times (noisy on a shared
# machine) and callgrind instruction counts (repeatable), with the ratio
# osevent/peer, for the same work done by the peer and through osevent,
# in the same run.
#  - pull-bench: a hand-written poll loop against osev_before/afterpoll;
#  - push-bench: libevent events against a context attached to the base
#    (fds, then timers); skipped when it was not built (no libevent).
# usage: bench/run-bench.sh BUILDDIR
set -eu
b=${1:-.}
lt="$b/libtool"
have_vg=false
if command -v valgrind >/dev/null 2>&1; then
    have_vg=true
fi

# count WORK MODE PROG ARGS...: callgrind's instruction count for one side.
count() {
    w=$1 m=$2
    shift 2
    out=$(mktemp)
    WORK=$w MODE=$m "$lt" --mode=execute valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$@" 2>"$out" || true
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out"
    rm -f "$out"
}

# counts WORK PEER ROUNDS PROG ARGS...: the peer's count, osevent's, and
# their ratio (PROG run for ROUNDS rounds, its last argument).
counts() {
    w=$1 peer=$2 n=$3
    shift 3
    $have_vg || return 0
    p=$(count "$w" "$peer" "$@")
    o=$(count "$w" osevent "$@")
    r=$(awk -v p="$p" -v o="$o" \
        'BEGIN { if (p > 0 && o > 0) printf "%.2fx", o / p; else print "?" }')
    printf '  callgrind %-8s %14s instructions for %s rounds\n' "$peer" "$p" "$n"
    printf '  callgrind %-8s %14s instructions for %s rounds  (%s)\n' \
        osevent "$o" "$n" "$r"
}

prog="$b/bench/pull-bench"
for shape in "64 4" "1024 16"; do
    # shellcheck disable=SC2086
    "$lt" --mode=execute "$prog" $shape 20000
    # shellcheck disable=SC2086
    counts fds hand 2000 "$prog" $shape 2000
done

prog="$b/bench/push-bench"
if [ ! -x "$prog" ]; then
    echo "push-bench not built (no libevent): skipped"
    exit 0
fi
for shape in "64 4" "1024 16"; do
    echo
    # shellcheck disable=SC2086
    WORK=fds "$lt" --mode=execute "$prog" $shape 20000
    # shellcheck disable=SC2086
    counts fds libevent 2000 "$prog" $shape 2000
done
echo
WORK=timers "$lt" --mode=execute "$prog" 1000 2000
counts timers libevent 200 "$prog" 1000 200
