# The dbus bridge: libosevent-dbus, <osevent-dbus.h>, osevent-dbus.pc.
# A libdbus connection's watches, timeouts and dispatching served by an
# osevent context.
EXTRA_DIST += osevent-dbus.pc.in
if HAVE_DBUS
include_HEADERS += include/osevent-dbus.h
lib_LTLIBRARIES += lib/bridges/libosevent-dbus.la
lib_bridges_libosevent_dbus_la_SOURCES = lib/bridges/dbus.c
lib_bridges_libosevent_dbus_la_CPPFLAGS = $(OSEV_BRIDGE_CPPFLAGS) $(DBUS_CFLAGS)
lib_bridges_libosevent_dbus_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_bridges_libosevent_dbus_la_LIBADD = lib/libosevent.la $(DBUS_LIBS)
lib_bridges_libosevent_dbus_la_LDFLAGS = $(OSEV_BRIDGE_LINKFLAGS) \
	-export-symbols-regex '^osev_dbus_'
pkgconfig_DATA += osevent-dbus.pc
dist_man3_MANS += docs/man/osev_dbus_attach.3 docs/man/osev_dbus_detach.3

if HAVE_CHECK
# One scenario in every host, on a private dbus-daemon the test starts
# (configure's DBUS_DAEMON; without one the test is skipped).
check_PROGRAMS += tests/bridges/test-dbus
TESTS += tests/bridges/test-dbus
tests_bridges_test_dbus_SOURCES = tests/bridges/test-dbus.c
tests_bridges_test_dbus_CPPFLAGS = $(OSEV_BRIDGE_TEST_CPPFLAGS) $(DBUS_CFLAGS) \
	-DOSEV_DBUS_DAEMON='"$(DBUS_DAEMON)"'
tests_bridges_test_dbus_LDADD = lib/bridges/libosevent-dbus.la \
	$(OSEV_BRIDGE_TEST_LIBS) $(DBUS_LIBS)
endif
endif
