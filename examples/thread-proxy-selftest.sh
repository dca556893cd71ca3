#!/bin/sh
# make check: thread-proxy --self-test (osev_schedule from worker threads).
# The program has its own 30 s guard timer, so this cannot hang.
exec "${top_builddir:-.}/examples/thread-proxy" --self-test
