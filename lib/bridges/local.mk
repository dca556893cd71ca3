# Bridges: one small library per library that has socket and timer
# callbacks of its own (libcurl, c-ares, libdbus), each built only where
# configure found it (HAVE_<NAME>).  Their tests run one scenario per
# bridge in every host this build has (tests/bridges/host.h).

if HAVE_CHECK
# The hosts: the built-in loop, pull mode, and each adapter built here.
check_LTLIBRARIES += tests/bridges/libhost.la
tests_bridges_libhost_la_SOURCES = tests/bridges/host.c tests/bridges/host.h \
	tests/bridges/host-foreign.h
tests_bridges_libhost_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	$(OSEV_HOST_CPPFLAGS) $(CHECK_CFLAGS)
tests_bridges_libhost_la_LIBADD = $(OSEV_HOST_LIBADD) lib/libosevent.la \
	$(CHECK_LIBS)
OSEV_HOST_CPPFLAGS =
OSEV_HOST_LIBADD =
if HAVE_GLIB
OSEV_HOST_CPPFLAGS += -DHOST_GLIB $(GLIB_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-glib.la $(GLIB_LIBS)
endif
if HAVE_LIBEVENT
OSEV_HOST_CPPFLAGS += -DHOST_LIBEVENT $(LIBEVENT_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-libevent.la $(LIBEVENT_LIBS)
endif
if HAVE_LIBEV
OSEV_HOST_CPPFLAGS += -DHOST_LIBEV $(LIBEV_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-libev.la $(LIBEV_LIBS)
tests_bridges_libhost_la_SOURCES += tests/bridges/host-libev.c
endif
if HAVE_LIBUV
OSEV_HOST_CPPFLAGS += -DHOST_LIBUV $(LIBUV_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-libuv.la $(LIBUV_LIBS)
endif
if HAVE_TEVENT
OSEV_HOST_CPPFLAGS += -DHOST_TEVENT $(TEVENT_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-tevent.la $(TEVENT_LIBS)
endif
if HAVE_VERTO
OSEV_HOST_CPPFLAGS += -DHOST_VERTO $(VERTO_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-verto.la $(VERTO_LIBS)
endif
if HAVE_SDEVENT
OSEV_HOST_CPPFLAGS += -DHOST_SDEVENT $(SDEVENT_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-sdevent.la $(SDEVENT_LIBS)
endif
if HAVE_VIRT
OSEV_HOST_CPPFLAGS += -DHOST_VIRT $(VIRT_CFLAGS)
OSEV_HOST_LIBADD += lib/adapters/libosevent-virt.la $(VIRT_LIBS)
endif

# The hosts themselves, with a stand-in bridge: fds, a timer and events.
check_PROGRAMS += tests/bridges/test-hosts
TESTS += tests/bridges/test-hosts
tests_bridges_test_hosts_SOURCES = tests/bridges/test-hosts.c
tests_bridges_test_hosts_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	$(CHECK_CFLAGS)
tests_bridges_test_hosts_LDADD = tests/bridges/libhost.la \
	tests/libtestutil.la lib/libosevent.la $(CHECK_LIBS)
endif

# What a bridge's build and test need, on top of its own flags.
OSEV_BRIDGE_CPPFLAGS = $(AM_CPPFLAGS) -DOSEV_BUILDING_LIBRARY
OSEV_BRIDGE_LINKFLAGS = -version-info $(OSEV_LT_VERSION) -no-undefined
OSEV_BRIDGE_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	-I$(top_srcdir)/tests/bridges $(CHECK_CFLAGS)
OSEV_BRIDGE_TEST_LIBS = tests/bridges/libhost.la tests/libtestutil.la \
	lib/libosevent.la $(CHECK_LIBS)

include $(srcdir)/lib/bridges/curl.mk
include $(srcdir)/lib/bridges/cares.mk
include $(srcdir)/lib/bridges/dbus.mk
