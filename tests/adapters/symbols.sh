#!/bin/sh
# Each adapter library that was built exports its own public API and
# nothing else: exactly the OSEV_EXPORT prototypes of its header, all
# named osev_<loop>_ (the shared adapter code stays hidden inside).
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
command -v nm >/dev/null 2>&1 || { echo "nm not found: skipping"; exit 77; }
checked=0 status=0
for so in "$top_builddir"/lib/adapters/.libs/libosevent-*.so; do
    [ -f "$so" ] || continue
    name=$(basename "$so" .so)
    name=${name#libosevent-}
    header="$top_srcdir/include/osevent-$name.h"
    nm -D --defined-only "$so" | awk '{print $3}' | LC_ALL=C sort >"symbols-$name.actual"
    sed -n 's/^OSEV_EXPORT[^(]*[ *]\(osev_[a-z0-9_]*\)(.*/\1/p' "$header" |
        LC_ALL=C sort >"symbols-$name.header"
    if ! diff -u "symbols-$name.header" "symbols-$name.actual"; then
        echo "libosevent-$name: exports differ from $header's OSEV_EXPORT list"
        status=1
    fi
    if grep -qv "^osev_${name}_" "symbols-$name.actual"; then
        echo "libosevent-$name: exports a name outside osev_${name}_"
        status=1
    fi
    rm -f "symbols-$name.actual" "symbols-$name.header"
    checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || { echo "no adapter library built: skipping"; exit 77; }
[ "$status" -eq 0 ] && echo "adapter exports: $checked libraries, as declared"
exit "$status"
