# Unit tests: one Check suite per concern, plus the exported-symbol check.
# Run the whole suite under the poll backend with OSEV_BACKEND=poll.
OSEV_SUITES = \
	tests/test-registry \
	tests/test-timer \
	tests/test-pull \
	tests/test-select \
	tests/test-event \
	tests/test-evtype \
	tests/test-loop \
	tests/test-errors \
	tests/test-model \
	tests/test-waiters \
	tests/test-hooks \
	tests/test-hookref \
	tests/test-signal \
	tests/test-child \
	tests/test-fork \
	tests/test-schedule \
	tests/test-inject \
	tests/test-stress \
	tests/test-wakeups \
	tests/test-teardown \
	tests/test-fdreuse \
	tests/test-limits \
	tests/test-refusals \
	tests/test-misuse \
	tests/test-version

TESTS += tests/symbols.sh tests/headers.sh
EXTRA_DIST += tests/symbols.sh tests/osevent.sym tests/installed/consumer.c \
	tests/headers.sh
TESTS_ENVIRONMENT = top_builddir=$(top_builddir) top_srcdir=$(top_srcdir) \
	CC="$(CC)" CXX="$(CXX)"

if HAVE_CHECK
check_PROGRAMS += $(OSEV_SUITES)
TESTS += $(OSEV_SUITES)
check_LTLIBRARIES += tests/libtestutil.la
tests_libtestutil_la_SOURCES = tests/testutil.c tests/testutil.h
# Every suite is tests/NAME.c built the same way: automake's default
# source name and the flags below (other programs set their own LDADD).
AM_CPPFLAGS += $(CHECK_CFLAGS)
LDADD = tests/libtestutil.la lib/libosevent.la $(CHECK_LIBS)
endif

CLEANFILES += symbols.actual symbols.header

# Mutation testing: scripts/mutate applies each mutant of tests/mutants.txt
# to a scratch copy of the tree (under mutant/ here), rebuilds and runs the
# suites above, and reports which mutants the tests kill.  It takes the
# better part of an hour, so neither make check nor CI runs it.  Needs a
# git checkout (the copy is of the files git knows) and python3.
mutation:
	$(top_srcdir)/scripts/mutate --work $(abs_top_builddir)/mutant
.PHONY: mutation
EXTRA_DIST += scripts/mutate tests/mutants.txt
