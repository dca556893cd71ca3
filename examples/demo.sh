#!/bin/sh
# demo.sh - the same directory events, arriving two ways:
#   poll-loop  an application's own poll() loop (osev_beforepoll/afterpoll)
#   wait-tool  a blocking tool (osev_event_wait with a predicate)
# both watching one temporary directory while this script changes files.
#
# usage: demo.sh [BINDIR]   (where poll-loop and wait-tool were built;
#                            `make demo` passes it)
#
# Correctness never depends on timing: we start changing files only once
# both programs say they are watching, poll-loop exits by itself after the
# 5 file events we make (--count 5), and both programs have a 10 s
# deadline.  The short sleeps only pace the output for a human.
set -eu
bin=${1:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osevent-demo.XXXXXX")
dir=$tmp/watched
mkdir "$dir"
pl_pid=
wt_pid=

cleanup() {
    for pid in $pl_pid $wt_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

heading() { printf '\n=== %s\n' "$*"; }
say() { printf 'script: %s\n' "$*"; }
pace() { sleep 0.3; }

# wait_ready FILE TEXT NAME: wait (5 s at most) until FILE holds TEXT.
wait_ready() {
    n=0
    until grep -q "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        if [ "$n" -gt 100 ]; then
            echo "demo: $3 did not start:" >&2
            cat "$1" >&2
            exit 1
        fi
        sleep 0.05
    done
}

heading "osevent demo: one directory, two consumers"
echo "directory: $dir"

heading "1. start poll-loop (own poll() loop), exits after 5 file events"
"$bin/poll-loop" --count 5 --timeout 10 --tick 500 "$dir" \
    </dev/null >"$tmp/poll-loop.out" 2>&1 &
pl_pid=$!
wait_ready "$tmp/poll-loop.out" "watching" poll-loop
echo "poll-loop is watching (pid $pl_pid)"

heading "2. start wait-tool (osev_event_wait), waiting for report.txt"
"$bin/wait-tool" "$dir" report.txt 10 >"$tmp/wait-tool.out" 2>&1 &
wt_pid=$!
wait_ready "$tmp/wait-tool.out" "waiting for" wait-tool
echo "wait-tool is waiting (pid $wt_pid)"

heading "3. the script changes files"
say "create notes.txt";     : >"$dir/notes.txt";            pace
say "append to notes.txt";  echo hello >>"$dir/notes.txt";  pace
say "create report.txt";    : >"$dir/report.txt";           pace
say "delete notes.txt";     rm "$dir/notes.txt";            pace
say "delete report.txt";    rm "$dir/report.txt"

pl_status=0
wait "$pl_pid" || pl_status=$?
pl_pid=
wt_status=0
wait "$wt_pid" || wt_status=$?
wt_pid=

heading "4. what poll-loop saw (exit status $pl_status)"
cat "$tmp/poll-loop.out"

heading "5. what wait-tool saw (exit status $wt_status)"
cat "$tmp/wait-tool.out"

heading "result"
if [ "$pl_status" -eq 0 ] && [ "$wt_status" -eq 0 ]; then
    echo "demo: OK: the same changes reached both programs"
else
    echo "demo: FAILED" >&2
    exit 1
fi
