# Examples: two programs built on the dirwatch producer (compiled into
# both), their --self-test runs in `make check`, and `make demo`.
EXAMPLES_DIRWATCH = examples/dirwatch.c examples/dirwatch.h

noinst_PROGRAMS += examples/poll-loop examples/wait-tool
examples_poll_loop_SOURCES = examples/poll-loop.c $(EXAMPLES_DIRWATCH)
examples_poll_loop_LDADD = lib/libosevent.la
examples_wait_tool_SOURCES = examples/wait-tool.c $(EXAMPLES_DIRWATCH)
examples_wait_tool_LDADD = lib/libosevent.la

TESTS += examples/poll-loop-selftest.sh examples/wait-tool-selftest.sh
EXTRA_DIST += examples/poll-loop-selftest.sh examples/wait-tool-selftest.sh \
	examples/demo.sh
CLEANFILES += examples/poll-loop.valgrind examples/wait-tool.valgrind

# The demo: poll-loop and wait-tool watching one temporary directory while
# a script changes files in it.  Works from the source dir and from any
# build dir: the script is found in $(srcdir), the programs in $(builddir).
.PHONY: demo
demo: examples/poll-loop$(EXEEXT) examples/wait-tool$(EXEEXT)
	$(SHELL) $(srcdir)/examples/demo.sh $(builddir)/examples
