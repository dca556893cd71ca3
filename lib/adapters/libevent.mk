# The libevent adapter: libosevent-libevent, <osevent-libevent.h>, osevent-libevent.pc.
if HAVE_LIBEVENT
include_HEADERS += include/osevent-libevent.h
lib_LTLIBRARIES += lib/adapters/libosevent-libevent.la
lib_adapters_libosevent_libevent_la_SOURCES = lib/adapters/libevent.c
lib_adapters_libosevent_libevent_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(LIBEVENT_CFLAGS)
lib_adapters_libosevent_libevent_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_libevent_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(LIBEVENT_LIBS)
lib_adapters_libosevent_libevent_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_libevent_'
pkgconfig_DATA += osevent-libevent.pc
dist_man3_MANS += docs/man/osev_libevent_attach.3 docs/man/osev_libevent_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-libevent
TESTS += tests/adapters/test-libevent
tests_adapters_test_libevent_SOURCES = tests/adapters/test-libevent.c
tests_adapters_test_libevent_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(LIBEVENT_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_libevent_LDADD = lib/adapters/libosevent-libevent.la $(OSEV_SCENARIO_LDADD) $(LIBEVENT_LIBS)
endif
endif
