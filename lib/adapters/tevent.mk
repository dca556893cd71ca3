# The tevent adapter: libosevent-tevent, <osevent-tevent.h>, osevent-tevent.pc.
if HAVE_TEVENT
include_HEADERS += include/osevent-tevent.h
lib_LTLIBRARIES += lib/adapters/libosevent-tevent.la
lib_adapters_libosevent_tevent_la_SOURCES = lib/adapters/tevent.c
lib_adapters_libosevent_tevent_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(TEVENT_CFLAGS)
lib_adapters_libosevent_tevent_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_tevent_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(TEVENT_LIBS)
lib_adapters_libosevent_tevent_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_tevent_'
pkgconfig_DATA += osevent-tevent.pc
dist_man3_MANS += docs/man/osev_tevent_attach.3 docs/man/osev_tevent_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-tevent
TESTS += tests/adapters/test-tevent
tests_adapters_test_tevent_SOURCES = tests/adapters/test-tevent.c
tests_adapters_test_tevent_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(TEVENT_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_tevent_LDADD = lib/adapters/libosevent-tevent.la $(OSEV_SCENARIO_LDADD) $(TEVENT_LIBS)
endif
endif
