# The verto adapter: libosevent-verto, <osevent-verto.h>, osevent-verto.pc.
if HAVE_VERTO
include_HEADERS += include/osevent-verto.h
lib_LTLIBRARIES += lib/adapters/libosevent-verto.la
lib_adapters_libosevent_verto_la_SOURCES = lib/adapters/verto.c
lib_adapters_libosevent_verto_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(VERTO_CFLAGS)
lib_adapters_libosevent_verto_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_verto_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(VERTO_LIBS)
lib_adapters_libosevent_verto_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_verto_'
pkgconfig_DATA += osevent-verto.pc
dist_man3_MANS += docs/man/osev_verto_attach.3 docs/man/osev_verto_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-verto
TESTS += tests/adapters/test-verto
tests_adapters_test_verto_SOURCES = tests/adapters/test-verto.c
tests_adapters_test_verto_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(VERTO_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_verto_LDADD = lib/adapters/libosevent-verto.la $(OSEV_SCENARIO_LDADD) $(VERTO_LIBS)
# verto cannot say what a context holds: the test makes its contexts over
# loops of its own (verto_convert_glib/_libev) and asks those loops.
if HAVE_VERTO_GLIB
tests_adapters_test_verto_SOURCES += $(OSEV_GLIB_PROBE)
tests_adapters_test_verto_CPPFLAGS += -DOSEV_TEST_VERTO_GLIB $(GLIB_CFLAGS)
tests_adapters_test_verto_LDADD += -lverto-glib $(GLIB_LIBS)
endif
if HAVE_VERTO_LIBEV
tests_adapters_test_verto_CPPFLAGS += -DOSEV_TEST_VERTO_LIBEV $(LIBEV_CFLAGS)
tests_adapters_test_verto_LDADD += -lverto-libev $(LIBEV_LIBS)
endif
endif
endif
