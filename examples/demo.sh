#!/bin/sh
# demo.sh - the same directory events, arriving three ways:
#   poll-loop  an application's own poll() loop (osev_beforepoll/afterpoll)
#   wait-tool  a blocking tool (osev_event_wait with a predicate)
#   glib-app   a GMainLoop application (osev_glib_attach, events pushed to
#              an event_occurs hook); only if it was built (needs GLib)
# all watching one temporary directory while this script changes files.
# Then, if virt-events was built (needs libvirt), its --self-test: libvirt
# domain lifecycle events from the test:///default driver.
#
# usage: demo.sh [BINDIR]   (where the examples were built; `make demo`
#                            passes it)
#
# Correctness never depends on timing: we start changing files only once
# every program says it is watching, poll-loop and glib-app exit by
# themselves after the 5 file events we make (--count 5), and every
# program has a 10 s deadline.  The short sleeps only pace the output for
# a human.
set -eu
bin=${1:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osevent-demo.XXXXXX")
dir=$tmp/watched
mkdir "$dir"
pl_pid=
wt_pid=
ga_pid=
have_glib=no
[ -x "$bin/glib-app" ] && have_glib=yes
have_virt=no
[ -x "$bin/virt-events" ] && have_virt=yes

cleanup() {
    for pid in $pl_pid $wt_pid $ga_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

heading() { printf '\n=== %s\n' "$*"; }
# step TEXT: a numbered heading (sections for programs not built are left
# out, so the numbers are counted, not written).
nstep=0
step() { nstep=$((nstep + 1)); heading "$nstep. $*"; }
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

# reap PID: wait for it; its exit status goes to $st.  (Not in a $(...)
# subshell: only this shell can wait for its children.)
reap() {
    st=0
    wait "$1" || st=$?
}

if [ "$have_glib" = yes ]; then
    heading "osevent demo: one directory, three consumers"
else
    heading "osevent demo: one directory, two consumers (glib-app not built)"
fi
echo "directory: $dir"

step "start poll-loop (own poll() loop), exits after 5 file events"
"$bin/poll-loop" --count 5 --timeout 10 --tick 500 "$dir" \
    </dev/null >"$tmp/poll-loop.out" 2>&1 &
pl_pid=$!
wait_ready "$tmp/poll-loop.out" "watching" poll-loop
echo "poll-loop is watching (pid $pl_pid)"

step "start wait-tool (osev_event_wait), waiting for report.txt"
"$bin/wait-tool" "$dir" report.txt 10 >"$tmp/wait-tool.out" 2>&1 &
wt_pid=$!
wait_ready "$tmp/wait-tool.out" "waiting for" wait-tool
echo "wait-tool is waiting (pid $wt_pid)"

if [ "$have_glib" = yes ]; then
    step "start glib-app (GMainLoop + osev_glib_attach), exits after 5 file events"
    "$bin/glib-app" --count 5 --timeout 10 --tick 500 "$dir" \
        </dev/null >"$tmp/glib-app.out" 2>&1 &
    ga_pid=$!
    wait_ready "$tmp/glib-app.out" "watching" glib-app
    echo "glib-app is watching (pid $ga_pid)"
fi

step "the script changes files"
say "create notes.txt";     : >"$dir/notes.txt";            pace
say "append to notes.txt";  echo hello >>"$dir/notes.txt";  pace
say "create report.txt";    : >"$dir/report.txt";           pace
say "delete notes.txt";     rm "$dir/notes.txt";            pace
say "delete report.txt";    rm "$dir/report.txt"

reap "$pl_pid"; pl_status=$st; pl_pid=
reap "$wt_pid"; wt_status=$st; wt_pid=
ga_status=0
if [ -n "$ga_pid" ]; then
    reap "$ga_pid"; ga_status=$st; ga_pid=
fi

step "what poll-loop saw (exit status $pl_status)"
cat "$tmp/poll-loop.out"

step "what wait-tool saw (exit status $wt_status)"
cat "$tmp/wait-tool.out"

if [ "$have_glib" = yes ]; then
    step "what glib-app saw (exit status $ga_status)"
    cat "$tmp/glib-app.out"
fi

virt_status=0
if [ "$have_virt" = yes ]; then
    step "another producer: libvirt domain events (virt-events --self-test)"
    "$bin/virt-events" --self-test || virt_status=$?
    echo "(exit status $virt_status)"
fi

heading "result"
if [ "$pl_status" -eq 0 ] && [ "$wt_status" -eq 0 ] &&
    [ "$ga_status" -eq 0 ] && [ "$virt_status" -eq 0 ]; then
    if [ "$have_glib" = yes ]; then
        echo "demo: OK: the same changes reached all three programs"
    else
        echo "demo: OK: the same changes reached both programs"
    fi
    [ "$have_virt" = no ] || echo "demo: OK: virt-events passed its self-test"
else
    echo "demo: FAILED" >&2
    exit 1
fi
