#!/bin/sh
# The shared object must export the public API and nothing else: compare
# its dynamic symbols with the committed list.  A difference is either a
# leaked internal symbol or a new ABI, which must be added on purpose
# (and the libtool -version-info bumped).
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
so="$top_builddir/lib/.libs/libosevent.so"
if [ ! -f "$so" ]; then
    echo "no $so (static-only build?): skipping"
    exit 77
fi
if ! command -v nm >/dev/null 2>&1; then
    echo "nm not found: skipping"
    exit 77
fi
nm -D --defined-only "$so" | awk '{print $3}' | LC_ALL=C sort > symbols.actual
if ! diff -u "$top_srcdir/tests/osevent.sym" symbols.actual; then
    echo "exported symbols differ from tests/osevent.sym (new ABI detected?)"
    exit 1
fi
# And the list must be what the header declares with OSEV_EXPORT.
sed -n 's/^OSEV_EXPORT[^(]*[ *]\(osev_[a-z0-9_]*\)(.*/\1/p' \
    "$top_srcdir"/include/osevent.h | LC_ALL=C sort > symbols.header
if ! diff -u symbols.header symbols.actual; then
    echo "the header's OSEV_EXPORT prototypes and the exported symbols differ"
    exit 1
fi
echo "exported symbols: $(wc -l < symbols.actual), as listed and declared"
