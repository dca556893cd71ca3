# The c-ares bridge: libosevent-cares, <osevent-cares.h>, osevent-cares.pc.
if HAVE_CARES
include_HEADERS += include/osevent-cares.h
lib_LTLIBRARIES += lib/bridges/libosevent-cares.la
lib_bridges_libosevent_cares_la_SOURCES = lib/bridges/cares.c
lib_bridges_libosevent_cares_la_CPPFLAGS = $(OSEV_BRIDGE_CPPFLAGS) $(CARES_CFLAGS)
lib_bridges_libosevent_cares_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_bridges_libosevent_cares_la_LIBADD = lib/libosevent.la $(CARES_LIBS)
lib_bridges_libosevent_cares_la_LDFLAGS = $(OSEV_BRIDGE_LINKFLAGS) -export-symbols-regex '^osev_cares_'
pkgconfig_DATA += osevent-cares.pc
dist_man3_MANS += docs/man/osev_cares_attach.3 docs/man/osev_cares_detach.3 \
	docs/man/osev_cares_update.3

if HAVE_CHECK
check_PROGRAMS += tests/bridges/test-cares
TESTS += tests/bridges/test-cares
tests_bridges_test_cares_SOURCES = tests/bridges/test-cares.c
tests_bridges_test_cares_CPPFLAGS = $(OSEV_BRIDGE_TEST_CPPFLAGS) $(CARES_CFLAGS)
tests_bridges_test_cares_LDADD = lib/bridges/libosevent-cares.la \
	$(OSEV_BRIDGE_TEST_LIBS) $(CARES_LIBS)
endif
endif
EXTRA_DIST += osevent-cares.pc.in
