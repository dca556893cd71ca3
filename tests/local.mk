# Unit tests: one Check suite per concern, plus the exported-symbol check.
# Run the whole suite under the poll backend with OSEV_BACKEND=poll.
OSEV_SUITES = \
	tests/test-registry \
	tests/test-timer \
	tests/test-pull \
	tests/test-select \
	tests/test-event \
	tests/test-loop \
	tests/test-errors \
	tests/test-model

TESTS += tests/symbols.sh
EXTRA_DIST += tests/symbols.sh tests/osevent.sym
TESTS_ENVIRONMENT = top_builddir=$(top_builddir) top_srcdir=$(top_srcdir)

if HAVE_CHECK
check_PROGRAMS += $(OSEV_SUITES)
TESTS += $(OSEV_SUITES)
check_LTLIBRARIES = tests/libtestutil.la
tests_libtestutil_la_SOURCES = tests/testutil.c tests/testutil.h
tests_libtestutil_la_CFLAGS = $(OSEV_TEST_CFLAGS)
OSEV_TEST_LDADD = tests/libtestutil.la lib/libosevent.la $(CHECK_LIBS)
OSEV_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -D_GNU_SOURCE

tests_test_registry_SOURCES = tests/test-registry.c
tests_test_registry_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_registry_LDADD = $(OSEV_TEST_LDADD)
tests_test_timer_SOURCES = tests/test-timer.c
tests_test_timer_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_timer_LDADD = $(OSEV_TEST_LDADD)
tests_test_pull_SOURCES = tests/test-pull.c
tests_test_pull_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_pull_LDADD = $(OSEV_TEST_LDADD)
tests_test_select_SOURCES = tests/test-select.c
tests_test_select_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_select_LDADD = $(OSEV_TEST_LDADD)
tests_test_event_SOURCES = tests/test-event.c
tests_test_event_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_event_LDADD = $(OSEV_TEST_LDADD)
tests_test_loop_SOURCES = tests/test-loop.c
tests_test_loop_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_loop_LDADD = $(OSEV_TEST_LDADD)
tests_test_errors_SOURCES = tests/test-errors.c
tests_test_errors_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_errors_LDADD = $(OSEV_TEST_LDADD)
tests_test_model_SOURCES = tests/test-model.c
tests_test_model_CFLAGS = $(OSEV_TEST_CFLAGS)
tests_test_model_LDADD = $(OSEV_TEST_LDADD)
endif
CLEANFILES += symbols.actual symbols.header
