#!/bin/sh
# man-lint.sh - the manual pages are clean and complete.
#
# 1. Every osev_ function (and inline helper) declared in include/osevent.h
#    or an adapter's include/osevent-<loop>.h has a page docs/man/<name>.3 whose NAME section lists it (or a
#    ".so man3/other.3" link to such a page), so a new function without a
#    page fails `make check`.
# 2. When mandoc(1) is installed, every page lints clean with
#    `mandoc -Tlint -Wwarning`: any message is a failure.
# Exit status: 0 pass, 1 fail, 77 skip (no mandoc, and step 1 passed).

: "${srcdir:=$(dirname "$0")/..}"
header="$srcdir/include/osevent.h"
headers=$(ls "$srcdir"/include/osevent*.h)
mandir="$srcdir/docs/man"
status=0

if [ ! -r "$header" ] || [ ! -d "$mandir" ]; then
    echo "man-lint: cannot find $header or $mandir" >&2
    exit 1
fi

# Functions: every "osev_name(" in the header, minus the function types
# declared with "typedef ... osev_name(".
# shellcheck disable=SC2086 # $headers: one path per word
calls=$(grep -ho 'osev_[a-z0-9_]*(' $headers | tr -d '(' | sort -u)
# shellcheck disable=SC2086
types=$(grep -ho 'typedef[^;(]*[ *]osev_[a-z0-9_]*(' $headers |
        grep -o 'osev_[a-z0-9_]*($' | tr -d '(' | sort -u)
funcs=$(printf '%s\n' "$calls" | grep -vxF "$types")
if [ -z "$funcs" ]; then
    echo "man-lint: found no osev_ function in $header" >&2
    exit 1
fi
for f in $funcs; do
    page="$mandir/$f.3"
    if [ ! -f "$page" ]; then
        echo "man-lint: $f has no page docs/man/$f.3" >&2
        status=1
        continue
    fi
    # A link page (".so man3/other.3") counts if its target names $f.
    target=$(sed -n 's|^\.so man3/\([^ ]*\.3\)$|\1|p' "$page")
    [ -n "$target" ] && page="$mandir/$target"
    if [ ! -f "$page" ] || ! grep -Eqx "\.Nm $f( ,)?" "$page"; then
        echo "man-lint: docs/man/$f.3 does not name $f in .Nm" >&2
        status=1
    fi
done

if ! command -v mandoc >/dev/null 2>&1; then
    echo "man-lint: mandoc not found; pages not linted"
    [ "$status" -eq 0 ] && exit 77
    exit "$status"
fi

# Lint from a scratch root holding man3 -> docs/man, so that a ".so man3/x.3"
# resolves as it does once installed.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osev-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
case $mandir in
/*) ln -s "$mandir" "$tmp/man3" ;;
*)  ln -s "$(pwd)/$mandir" "$tmp/man3" ;;
esac
pages=$(cd "$tmp" && ls man3/*.3)
if [ -z "$pages" ]; then
    echo "man-lint: no pages in $mandir" >&2
    exit 1
fi
# mandoc's exit status alone is not enough (it is 0 on style notes only
# and some versions print database notices): fail on any output.
# shellcheck disable=SC2086 # $pages: one name per word, split on purpose
out=$(cd "$tmp" && mandoc -Tlint -Wwarning $pages 2>&1)
if [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    status=1
fi
n=$(printf '%s\n' "$pages" | wc -l)
[ "$status" -eq 0 ] && echo "man-lint: $n pages clean"
exit "$status"
