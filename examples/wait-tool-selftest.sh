#!/bin/sh
# make check: wait-tool --self-test (osev_event_wait with a predicate).
# The program has its own 10 s deadline, so this cannot hang.
exec "${top_builddir:-.}/examples/wait-tool" --self-test
