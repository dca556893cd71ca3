#!/bin/sh
# make check: poll-loop --self-test (the own-poll()-loop pattern).
# The program has its own 10 s deadline, so this cannot hang.
exec "${top_builddir:-.}/examples/poll-loop" --self-test
