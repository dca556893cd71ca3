#!/bin/sh
# man-errors.sh - every public function's man page lists the errors its
# header comment names: no more, no fewer.
#
# Usage: man-errors.sh [INCLUDE_DIR MAN_DIR]   (default: $srcdir/include
# and $srcdir/docs/man).  Exit status: 0 when they agree, 1 otherwise,
# each difference listed.
#
# The functions are those declared in INCLUDE_DIR/osevent*.h, every header
# a bridge or adapter adds included: a prototype line starting with
# OSEV_EXPORT (or another *_EXPORT) or "static inline".
#
# The header's errors for a function are read from its doc comment, the
# one whose text starts with its name: "osev_x - ..." (or "osev_x, osev_y
# - ..." for a comment on several).  A function without one is an error.
# The errors it names are
#  - every -EXXX in the comment (the negative errno the function returns);
#  - after "errno", up to the end of the sentence, every EXXX outside
#    parentheses ("Returns NULL with errno EINVAL (NULL ctx) or ENOMEM.").
# So the comment of a function that returns a value writes another
# function's error without the minus sign ("osev_x() fails with ESTALE")
# when the function itself does not return it.  A function returning
# void returns no error: whatever its comment names is another
# function's ("osev_fd_modify() returns -ESTALE"), and its page lists no
# error either.
#
# The page's errors are the Er names on the .It lines of its ERRORS
# section (".It Bq Er EMFILE , ENFILE"); an Er in the text of an item is
# not one.  A function's page is MAN_DIR/<name>.3, or the page that one
# links to with ".so man3/other.3".  A page that several functions
# resolve to (one that documents them all) lists the union of their
# errors.  A function without a page is skipped here: man-lint.sh reports
# it.
#
# And the overview, osevent.3, whose ERRORS says which codes the core
# returns, lists the union of the errors of every function of osevent.h.
set -eu
: "${srcdir:=$(dirname "$0")/..}"
incdir=${1:-$srcdir/include}
mandir=${2:-$srcdir/docs/man}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osev-errors.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

headers=$(ls "$incdir"/osevent*.h 2>/dev/null || true)
if [ -z "$headers" ] || [ ! -d "$mandir" ]; then
    echo "man-errors: no $incdir/osevent*.h or no $mandir" >&2
    exit 1
fi

# One line per declared function: "name void|value header.h", in
# $tmp/decl; one line per function a doc comment is about: "name CODE..."
# in $tmp/doc.
# shellcheck disable=SC2086 # $headers: one path per word
awk -v decl="$tmp/decl" -v doc="$tmp/doc" '
function codes_of(text,    out, t, s) {
    out = ""
    t = text
    while (match(t, /-E[A-Z0-9]+/)) {
        out = out " " substr(t, RSTART + 1, RLENGTH - 1)
        t = substr(t, RSTART + RLENGTH)
    }
    t = text
    while (match(t, /errno E[A-Z0-9]+[^.]*/)) {
        s = substr(t, RSTART + 6, RLENGTH - 6)
        t = substr(t, RSTART + RLENGTH)
        while (match(s, /\([^()]*\)/))
            s = substr(s, 1, RSTART - 1) substr(s, RSTART + RLENGTH)
        while (match(s, /E[A-Z0-9]+/)) {
            out = out " " substr(s, RSTART, RLENGTH)
            s = substr(s, RSTART + RLENGTH)
        }
    }
    return out
}
function comment_done(text,    head, n, names, i, codes) {
    if (!match(text, /^ *osev_[a-z0-9_]+(, osev_[a-z0-9_]+)* - /))
        return
    head = substr(text, RSTART, RLENGTH)
    sub(/ - $/, "", head)
    gsub(/ /, "", head)
    n = split(head, names, ",")
    codes = codes_of(text)
    for (i = 1; i <= n; i++)
        print names[i] codes > doc
}
incomment {
    line = $0
    ended = sub(/\*\/.*$/, "", line)
    sub(/^[ \t]*\*+ ?/, "", line)
    text = text " " line
    if (ended) {
        incomment = 0
        comment_done(text)
    }
    next
}
/^[ \t]*\/\*/ {
    line = $0
    ended = sub(/\*\/.*$/, "", line)
    sub(/^[ \t]*\/\*+ ?/, "", line)
    text = line
    if (ended)
        comment_done(text)
    else
        incomment = 1
    next
}
/^([A-Z][A-Z0-9_]*EXPORT|static inline)[ \t]/ && match($0, /osev_[a-z0-9_]+\(/) {
    name = substr($0, RSTART, RLENGTH - 1)
    kind = ($0 ~ /^[A-Za-z0-9_ \t]*[ \t]void[ \t]+osev_[a-z0-9_]+\(/) ? "void" : "value"
    file = FILENAME
    sub(/.*\//, "", file)
    print name, kind, file > decl
}
' $headers
touch "$tmp/doc"
if [ ! -s "$tmp/decl" ]; then
    echo "man-errors: no function declared in $incdir/osevent*.h" >&2
    exit 1
fi

# The page each function resolves to: "page function", in $tmp/pages.
while read -r f _; do
    if ! grep -q "^$f\( \|\$\)" "$tmp/doc"; then
        echo "man-errors: $f has no doc comment starting \"$f - \" in $incdir" >&2
        status=1
        continue
    fi
    page="$mandir/$f.3"
    [ -f "$page" ] || continue # man-lint.sh's to report
    target=$(sed -n 's|^\.so man3/\([^ ]*\.3\)$|\1|p' "$page")
    if [ -n "$target" ]; then
        page="$mandir/$target"
        if [ ! -f "$page" ]; then
            echo "man-errors: docs/man/$f.3 links to a missing $target" >&2
            status=1
            continue
        fi
    fi
    echo "$(basename "$page") $f" >>"$tmp/pages.all"
done <"$tmp/decl"
touch "$tmp/pages.all"
LC_ALL=C sort "$tmp/pages.all" >"$tmp/pages"

# The codes of a word list, one per line, sorted and unique.
set_of() {
    for c in "$@"; do echo "$c"; done | LC_ALL=C sort -u
}

checked=0
# shellcheck disable=SC2013 # page names: one word each
for page in $(cut -d' ' -f1 "$tmp/pages" | LC_ALL=C sort -u); do
    funcs=$(awk -v p="$page" '$1 == p { print $2 }' "$tmp/pages")
    # The header's: the union over the page's functions (none for void).
    hcodes=""
    for f in $funcs; do
        if grep -q "^$f void " "$tmp/decl"; then
            continue
        fi
        hcodes="$hcodes $(awk -v f="$f" '$1 == f { $1 = ""; print }' "$tmp/doc")"
    done
    # shellcheck disable=SC2086 # split on purpose
    set_of $hcodes >"$tmp/h"
    awk '/^\.Sh / { errors = ($2 == "ERRORS") } errors && /^\.It/ {
            for (i = 2; i <= NF; i++)
                if ($i ~ /^E[A-Z0-9]+$/)
                    print $i
        }' "$mandir/$page" | LC_ALL=C sort -u >"$tmp/m"
    only_man=$(LC_ALL=C comm -13 "$tmp/h" "$tmp/m" | paste -sd' ' -)
    only_hdr=$(LC_ALL=C comm -23 "$tmp/h" "$tmp/m" | paste -sd' ' -)
    # shellcheck disable=SC2086 # one function per word
    fl=$(printf '%s\n' $funcs | paste -sd' ' -)
    if [ -n "$only_man" ]; then
        echo "man-errors: $page: ERRORS lists $only_man; the header comment of $fl does not name it"
        status=1
    fi
    if [ -n "$only_hdr" ]; then
        echo "man-errors: $page: the header comment of $fl names $only_hdr; ERRORS does not list it"
        status=1
    fi
    checked=$((checked + 1))
done

# The overview: every code of the core, and no other.
if [ -f "$mandir/osevent.3" ]; then
    # shellcheck disable=SC2046 # one code per word
    set_of $(awk '$2 == "value" && $3 == "osevent.h" { print $1 }' "$tmp/decl" |
        while read -r f; do
            awk -v f="$f" '$1 == f { $1 = ""; print }' "$tmp/doc"
        done) >"$tmp/h"
    awk '/^\.Sh / { errors = ($2 == "ERRORS") } errors && /^\.It/ {
            for (i = 2; i <= NF; i++)
                if ($i ~ /^E[A-Z0-9]+$/)
                    print $i
        }' "$mandir/osevent.3" | LC_ALL=C sort -u >"$tmp/m"
    only_man=$(LC_ALL=C comm -13 "$tmp/h" "$tmp/m" | paste -sd' ' -)
    only_hdr=$(LC_ALL=C comm -23 "$tmp/h" "$tmp/m" | paste -sd' ' -)
    if [ -n "$only_man" ]; then
        echo "man-errors: osevent.3: ERRORS lists $only_man; no function of osevent.h returns it"
        status=1
    fi
    if [ -n "$only_hdr" ]; then
        echo "man-errors: osevent.3: functions of osevent.h return $only_hdr; ERRORS does not list it"
        status=1
    fi
fi

if [ "$status" -ne 0 ]; then
    echo "man-errors: fix the page or the header, whichever the code contradicts" \
        "(see the rules at the top of docs/man-errors.sh)"
else
    echo "man-errors: $checked pages list the errors their header comments name"
fi
exit "$status"
