#!/bin/sh
# make check: fetch-tool --self-test (c-ares and libcurl on one context,
# against servers on the same context).  The tool has its own 20 s
# deadline, so this cannot hang.
exec "${top_builddir:-.}/examples/fetch-tool" --self-test
