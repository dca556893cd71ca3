# The libev adapter: libosevent-libev, <osevent-libev.h>, osevent-libev.pc.
if HAVE_LIBEV
include_HEADERS += include/osevent-libev.h
lib_LTLIBRARIES += lib/adapters/libosevent-libev.la
lib_adapters_libosevent_libev_la_SOURCES = lib/adapters/libev.c
lib_adapters_libosevent_libev_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(LIBEV_CFLAGS)
lib_adapters_libosevent_libev_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_libev_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(LIBEV_LIBS)
lib_adapters_libosevent_libev_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_libev_'
pkgconfig_DATA += osevent-libev.pc
dist_man3_MANS += docs/man/osev_libev_attach.3 docs/man/osev_libev_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-libev
TESTS += tests/adapters/test-libev
tests_adapters_test_libev_SOURCES = tests/adapters/test-libev.c
tests_adapters_test_libev_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(LIBEV_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_libev_LDADD = lib/adapters/libosevent-libev.la $(OSEV_SCENARIO_LDADD) $(LIBEV_LIBS)
endif
endif
