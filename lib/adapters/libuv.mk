# The libuv adapter: libosevent-libuv, <osevent-libuv.h>, osevent-libuv.pc.
if HAVE_LIBUV
include_HEADERS += include/osevent-libuv.h
lib_LTLIBRARIES += lib/adapters/libosevent-libuv.la
lib_adapters_libosevent_libuv_la_SOURCES = lib/adapters/libuv.c
lib_adapters_libosevent_libuv_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(LIBUV_CFLAGS)
lib_adapters_libosevent_libuv_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_libuv_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(LIBUV_LIBS)
lib_adapters_libosevent_libuv_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_libuv_'
pkgconfig_DATA += osevent-libuv.pc
dist_man3_MANS += docs/man/osev_libuv_attach.3 docs/man/osev_libuv_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-libuv
TESTS += tests/adapters/test-libuv
tests_adapters_test_libuv_SOURCES = tests/adapters/test-libuv.c
tests_adapters_test_libuv_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(LIBUV_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_libuv_LDADD = lib/adapters/libosevent-libuv.la $(OSEV_SCENARIO_LDADD) $(LIBUV_LIBS)
endif
endif
