# The glib adapter: libosevent-glib, <osevent-glib.h>, osevent-glib.pc.
# Both directions: glib.c (GLib drives osevent), glib-host.c (osevent
# drives GLib).
if HAVE_GLIB
include_HEADERS += include/osevent-glib.h
lib_LTLIBRARIES += lib/adapters/libosevent-glib.la
lib_adapters_libosevent_glib_la_SOURCES = lib/adapters/glib.c \
	lib/adapters/glib-host.c
lib_adapters_libosevent_glib_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(GLIB_CFLAGS)
lib_adapters_libosevent_glib_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_glib_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(GLIB_LIBS)
lib_adapters_libosevent_glib_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_glib_'
pkgconfig_DATA += osevent-glib.pc
dist_man3_MANS += docs/man/osev_glib_attach.3 docs/man/osev_glib_detach.3 \
	docs/man/osev_glib_host.3 docs/man/osev_glib_unhost.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-glib tests/adapters/test-glib-host
TESTS += tests/adapters/test-glib tests/adapters/test-glib-host
tests_adapters_test_glib_SOURCES = tests/adapters/test-glib.c $(OSEV_GLIB_PROBE)
tests_adapters_test_glib_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(GLIB_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_glib_LDADD = lib/adapters/libosevent-glib.la $(OSEV_SCENARIO_LDADD) $(GLIB_LIBS)
# The host bridge has its own suite (not the push scenario).
tests_adapters_test_glib_host_SOURCES = tests/adapters/test-glib-host.c
tests_adapters_test_glib_host_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(GLIB_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_glib_host_LDADD = lib/adapters/libosevent-glib.la \
	tests/libtestutil.la lib/libosevent.la $(CHECK_LIBS) $(GLIB_LIBS)
endif
endif
