# Examples: programs built on the dirwatch producer (compiled into each),
# their --self-test runs in `make check`, and `make demo`.  example-cli:
# the command line and the self-test script they share.
EXAMPLES_DIRWATCH = examples/dirwatch.c examples/dirwatch.h
EXAMPLES_CLI = examples/example-cli.c examples/example-cli.h

noinst_PROGRAMS += examples/poll-loop examples/wait-tool
examples_poll_loop_SOURCES = examples/poll-loop.c $(EXAMPLES_DIRWATCH) \
	$(EXAMPLES_CLI)
examples_poll_loop_LDADD = lib/libosevent.la
examples_wait_tool_SOURCES = examples/wait-tool.c $(EXAMPLES_DIRWATCH) \
	$(EXAMPLES_CLI)
examples_wait_tool_LDADD = lib/libosevent.la

TESTS += examples/poll-loop-selftest.sh examples/wait-tool-selftest.sh
EXTRA_DIST += examples/poll-loop-selftest.sh examples/wait-tool-selftest.sh \
	examples/demo.sh
CLEANFILES += examples/poll-loop.valgrind examples/wait-tool.valgrind

# Worker threads handing results to the loop's thread with osev_schedule().
noinst_PROGRAMS += examples/thread-proxy
examples_thread_proxy_SOURCES = examples/thread-proxy.c
examples_thread_proxy_LDADD = lib/libosevent.la
TESTS += examples/thread-proxy-selftest.sh
EXTRA_DIST += examples/thread-proxy-selftest.sh
CLEANFILES += examples/thread-proxy.valgrind

# The same producer in a GMainLoop, through the GLib adapter.
EXAMPLES_DEMO_OPTIONAL =
if HAVE_GLIB
noinst_PROGRAMS += examples/glib-app
examples_glib_app_SOURCES = examples/glib-app.c $(EXAMPLES_DIRWATCH) \
	$(EXAMPLES_CLI)
examples_glib_app_CPPFLAGS = $(AM_CPPFLAGS) $(GLIB_CFLAGS)
examples_glib_app_LDADD = lib/adapters/libosevent-glib.la lib/libosevent.la \
	$(GLIB_LIBS)
TESTS += examples/glib-app-selftest.sh
CLEANFILES += examples/glib-app.valgrind
EXAMPLES_DEMO_OPTIONAL += examples/glib-app$(EXEEXT)
endif
EXTRA_DIST += examples/glib-app-selftest.sh
# virt-events is built by lib/adapters/virt.mk; the demo runs it too.
if HAVE_VIRT
EXAMPLES_DEMO_OPTIONAL += examples/virt-events$(EXEEXT)
CLEANFILES += examples/virt-events.valgrind
endif

# The demo: poll-loop, wait-tool and (with GLib) glib-app watching one
# temporary directory while a script changes files in it.  Works from the
# source dir and from any build dir: the script is found in $(srcdir), the
# programs in $(builddir).  EXAMPLES_DEMO_OPTIONAL: the optional ones that
# were configured (set in their conditionals above).
.PHONY: demo
demo: examples/poll-loop$(EXEEXT) examples/wait-tool$(EXEEXT) \
	$(EXAMPLES_DEMO_OPTIONAL)
	$(SHELL) $(srcdir)/examples/demo.sh $(builddir)/examples

# fetch-tool: c-ares and libcurl on one context, through their bridges;
# its --self-test runs an HTTP server and a DNS responder on the same
# context (fetch-servers.c).
if HAVE_CURL
if HAVE_CARES
noinst_PROGRAMS += examples/fetch-tool
examples_fetch_tool_SOURCES = examples/fetch-tool.c examples/fetch-servers.c \
	examples/fetch-servers.h
examples_fetch_tool_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS) $(CARES_CFLAGS)
examples_fetch_tool_LDADD = lib/bridges/libosevent-curl.la \
	lib/bridges/libosevent-cares.la lib/libosevent.la $(CURL_LIBS) \
	$(CARES_LIBS)
TESTS += examples/fetch-tool-selftest.sh
CLEANFILES += examples/fetch-tool.valgrind
endif
endif
EXTRA_DIST += examples/fetch-tool-selftest.sh
