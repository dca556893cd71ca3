#!/bin/sh
# man-errors-test.sh - man-errors.sh itself: on a small made-up header
# and its pages, it passes where they agree and fails on each kind of
# difference, including the cases the real tree has none of today (a
# ".so" link page, a page for several functions, a header added later).
set -eu
: "${srcdir:=$(dirname "$0")/..}"
check="$srcdir/docs/man-errors.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osev-errors-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0 n=0

# The fixture: a header in the house style and a page per function.
mkdir -p "$tmp/base/include" "$tmp/base/man"
cat >"$tmp/base/include/osevent-fx.h" <<'EOF'
/*
 * osevent-fx.h - a fixture.  osev_fx_open() - not a doc comment head.
 */
struct osev_fx {
    int size; /* a member comment, -EFAULT in it is nobody's */
};

/*
 * osev_fx_open - open.  Returns 0, -EINVAL (NULL), -ENOMEM.  Any thread.
 */
OSEV_EXPORT int osev_fx_open(int a);

/*
 * osev_fx_close - close; meanwhile osev_fx_open() returns -EBUSY.  NULL
 * is fine.
 */
OSEV_EXPORT void osev_fx_close(int a);

/*
 * osev_fx_new - allocate.  Returns NULL with errno EINVAL (a type past
 * EOF, or ENOSPC-like trouble) or ENOMEM.
 */
OSEV_EXPORT void *osev_fx_new(int a);

/* osev_fx_get - take one.  Returns 0 or -EAGAIN (none). */
OSEV_EXPORT int osev_fx_get(int a);

/* osev_fx_peek - look at one.  Returns 0, -EAGAIN or -EIO. */
OSEV_EXPORT int osev_fx_peek(int a);

/*
 * osev_fx_a, osev_fx_b - two on one page: a returns 0 or -EPERM, b 0 or
 * -ENOENT.
 */
OSEV_EXPORT int osev_fx_a(void);
OSEV_EXPORT int osev_fx_b(void);

/* osev_fx_nopage - no page: man-lint.sh's business.  Returns -EINVAL. */
static inline int osev_fx_nopage(void)
{
    return -EINVAL;
}
EOF
page() { # NAME CODE... : a page whose ERRORS lists one item per CODE
    p="$tmp/base/man/$1.3"
    shift
    printf '.Dd December 1, 2026\n.Sh NAME\n.Nm %s\n.Sh DESCRIPTION\n' \
        "$(basename "$p" .3)" >"$p"
    printf 'Also see\n.Er EIO\nin the text: not listed.\n' >>"$p"
    if [ "$#" -gt 0 ]; then
        printf '.Sh ERRORS\n.Bl -tag -width Er\n' >>"$p"
        for c in "$@"; do
            printf '.It Bq Er %s\nWhy.\nAs\n.Er EXDEV\nin the text.\n' "$c" >>"$p"
        done
        printf '.El\n' >>"$p"
    fi
    printf '.Sh SEE ALSO\n.Xr osevent 3\n' >>"$p"
}
page osev_fx_open EINVAL ENOMEM
page osev_fx_close
page osev_fx_new EINVAL ENOMEM
page osev_fx_get "EAGAIN , EIO"
printf '.so man3/osev_fx_get.3\n' >"$tmp/base/man/osev_fx_peek.3"
page osev_fx_ab ENOENT EPERM
printf '.so man3/osev_fx_ab.3\n' >"$tmp/base/man/osev_fx_a.3"
printf '.so man3/osev_fx_ab.3\n' >"$tmp/base/man/osev_fx_b.3"

# expect pass|fail WHAT [COMMAND...]: run COMMAND in a fresh copy of the
# fixture (as cd'd into it), then man-errors.sh on the copy.
expect() {
    want=$1 what=$2
    shift 2
    n=$((n + 1))
    rm -rf "$tmp/w"
    cp -R "$tmp/base" "$tmp/w"
    if [ "$#" -gt 0 ]; then (cd "$tmp/w" && "$@"); fi
    if sh "$check" "$tmp/w/include" "$tmp/w/man" >"$tmp/out" 2>&1; then
        got=pass
    else
        got=fail
    fi
    if [ "$got" = "$want" ]; then
        echo "ok $n - $what: ${got}ed"
    else
        echo "not ok $n - $what: ${got}ed, should ${want}"
        sed 's/^/#   /' "$tmp/out"
        failed=$((failed + 1))
    fi
}
edit() { # FILE SED-SCRIPT
    sed "$2" "$1" >"$1.new" && mv "$1.new" "$1"
}

expect pass "pages and comments agree"
expect fail "a code added to a page" \
    edit man/osev_fx_open.3 's/^\.It Bq Er ENOMEM$/.It Bq Er ENOMEM , ENOSPC/'
expect fail "a code removed from a page" \
    edit man/osev_fx_open.3 's/^\.It Bq Er ENOMEM$/.It Bq Er EINVAL/'
expect fail "a code added to a comment" \
    edit include/osevent-fx.h 's/-EINVAL (NULL), -ENOMEM/-EINVAL (NULL), -ENOMEM, -EBADF/'
expect fail "a code removed from a comment" \
    edit include/osevent-fx.h 's/-EINVAL (NULL), -ENOMEM/-EINVAL (NULL)/'
expect fail "a void function's page lists an error" \
    edit man/osev_fx_close.3 's/^\.Sh SEE ALSO$/.Sh ERRORS\n.Bl -tag -width Er\n.It Bq Er EBUSY\nx\n.El\n.Sh SEE ALSO/'
expect fail "errno form: a code the comment names after errno, missing" \
    edit man/osev_fx_new.3 's/^\.It Bq Er ENOMEM$/.It Bq Er EINVAL/'
expect fail "errno form: a code the comment does not name, listed" \
    edit man/osev_fx_new.3 's/^\.It Bq Er ENOMEM$/.It Bq Er ENOMEM , ENOSPC/'
expect fail "a .so link: the linked page lacks the link's code" \
    edit man/osev_fx_get.3 's/^\.It Bq Er EAGAIN , EIO$/.It Bq Er EAGAIN/'
expect fail "a .so link to a page that is missing" \
    rm man/osev_fx_get.3
expect fail "a page for several functions lacks one's code" \
    edit man/osev_fx_ab.3 '/^\.It Bq Er ENOENT$/d'
expect fail "a page for several functions lists a code neither names" \
    edit man/osev_fx_ab.3 's/^\.It Bq Er EPERM$/.It Bq Er EPERM , EROFS/'
expect fail "a function with no doc comment" \
    sh -c 'printf "OSEV_EXPORT int osev_fx_bare(void);\n" >>include/osevent-fx.h'
expect fail "a header added later, its page disagreeing" \
    sh -c 'printf "/* osev_fy_go - go.  Returns 0 or -EINVAL. */\nOSEV_EXPORT int osev_fy_go(void);\n" >include/osevent-fy.h &&
           printf ".Dd December 1, 2026\n.Sh NAME\n.Nm osev_fy_go\n.Sh ERRORS\n.Bl -tag -width Er\n.It Bq Er ENOMEM\nx\n.El\n" >man/osev_fy_go.3'
expect pass "a header added later, its page agreeing" \
    sh -c 'printf "/* osev_fy_go - go.  Returns 0 or -EINVAL. */\nOSEV_EXPORT int osev_fy_go(void);\n" >include/osevent-fy.h &&
           printf ".Dd December 1, 2026\n.Sh NAME\n.Nm osev_fy_go\n.Sh ERRORS\n.Bl -tag -width Er\n.It Bq Er EINVAL\nx\n.El\n" >man/osev_fy_go.3'

core() { # the core's header and its overview page, whose ERRORS has $1
    printf '/* osev_go - go.  Returns 0, -EINVAL or -ENOMEM. */\nOSEV_EXPORT int osev_go(void);\n' >include/osevent.h
    printf '/* osev_stop - stop; osev_go() may return -EBUSY. */\nOSEV_EXPORT void osev_stop(void);\n' >>include/osevent.h
    printf '.Dd December 1, 2026\n.Sh NAME\n.Nm osevent\n.Sh ERRORS\n.Bl -tag -width Er\n.It Bq Er %s\nx\n.El\n' "$1" >man/osevent.3
}
expect pass "the overview lists every code of osevent.h" core "EINVAL , ENOMEM"
expect fail "the overview lacks a code of osevent.h" core "EINVAL"
expect fail "the overview lists a code osevent.h does not return" core "EINVAL , ENOMEM , EBUSY"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
