# Allocation failure in every adapter and both bridges: one harness
# (tests/adapters/inject.c, which interposes malloc: it must be linked
# into the program, never a shared library) and a program per loop
# configure found, test-inject-<loop>.c.
if HAVE_CHECK
check_LTLIBRARIES += tests/adapters/libinject.la
tests_adapters_libinject_la_SOURCES = tests/adapters/inject.c \
	tests/adapters/inject.h
tests_adapters_libinject_la_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(CHECK_CFLAGS)
OSEV_INJECT_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(CHECK_CFLAGS)
# -rdynamic: the libraries' malloc calls must find the program's.
OSEV_INJECT_LINKFLAGS = -rdynamic
OSEV_INJECT_LDADD = tests/adapters/libinject.la tests/libtestutil.la \
	lib/libosevent.la $(CHECK_LIBS)

if HAVE_GLIB
check_PROGRAMS += tests/adapters/test-inject-glib
TESTS += tests/adapters/test-inject-glib
tests_adapters_test_inject_glib_SOURCES = tests/adapters/test-inject-glib.c $(OSEV_GLIB_PROBE)
tests_adapters_test_inject_glib_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(GLIB_CFLAGS)
tests_adapters_test_inject_glib_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_glib_LDADD = lib/adapters/libosevent-glib.la $(OSEV_INJECT_LDADD) $(GLIB_LIBS)
endif

if HAVE_LIBEVENT
check_PROGRAMS += tests/adapters/test-inject-libevent
TESTS += tests/adapters/test-inject-libevent
tests_adapters_test_inject_libevent_SOURCES = tests/adapters/test-inject-libevent.c
tests_adapters_test_inject_libevent_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(LIBEVENT_CFLAGS)
tests_adapters_test_inject_libevent_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_libevent_LDADD = lib/adapters/libosevent-libevent.la $(OSEV_INJECT_LDADD) $(LIBEVENT_LIBS)
endif

if HAVE_LIBEV
check_PROGRAMS += tests/adapters/test-inject-libev
TESTS += tests/adapters/test-inject-libev
tests_adapters_test_inject_libev_SOURCES = tests/adapters/test-inject-libev.c
tests_adapters_test_inject_libev_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(LIBEV_CFLAGS)
tests_adapters_test_inject_libev_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_libev_LDADD = lib/adapters/libosevent-libev.la $(OSEV_INJECT_LDADD) $(LIBEV_LIBS)
endif

if HAVE_LIBUV
check_PROGRAMS += tests/adapters/test-inject-libuv
TESTS += tests/adapters/test-inject-libuv
tests_adapters_test_inject_libuv_SOURCES = tests/adapters/test-inject-libuv.c
tests_adapters_test_inject_libuv_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(LIBUV_CFLAGS)
tests_adapters_test_inject_libuv_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_libuv_LDADD = lib/adapters/libosevent-libuv.la $(OSEV_INJECT_LDADD) $(LIBUV_LIBS)
endif

if HAVE_TEVENT
check_PROGRAMS += tests/adapters/test-inject-tevent
TESTS += tests/adapters/test-inject-tevent
tests_adapters_test_inject_tevent_SOURCES = tests/adapters/test-inject-tevent.c
tests_adapters_test_inject_tevent_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(TEVENT_CFLAGS)
tests_adapters_test_inject_tevent_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_tevent_LDADD = lib/adapters/libosevent-tevent.la $(OSEV_INJECT_LDADD) $(TEVENT_LIBS)
endif

if HAVE_VERTO
check_PROGRAMS += tests/adapters/test-inject-verto
TESTS += tests/adapters/test-inject-verto
tests_adapters_test_inject_verto_SOURCES = tests/adapters/test-inject-verto.c
tests_adapters_test_inject_verto_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(VERTO_CFLAGS)
tests_adapters_test_inject_verto_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_verto_LDADD = lib/adapters/libosevent-verto.la $(OSEV_INJECT_LDADD) $(VERTO_LIBS)
if HAVE_VERTO_GLIB
tests_adapters_test_inject_verto_SOURCES += $(OSEV_GLIB_PROBE)
tests_adapters_test_inject_verto_CPPFLAGS += -DOSEV_TEST_VERTO_GLIB $(GLIB_CFLAGS)
tests_adapters_test_inject_verto_LDADD += -lverto-glib $(GLIB_LIBS)
endif
if HAVE_VERTO_LIBEV
tests_adapters_test_inject_verto_CPPFLAGS += -DOSEV_TEST_VERTO_LIBEV $(LIBEV_CFLAGS)
tests_adapters_test_inject_verto_LDADD += -lverto-libev $(LIBEV_LIBS)
endif
endif

if HAVE_SDEVENT
check_PROGRAMS += tests/adapters/test-inject-sdevent
TESTS += tests/adapters/test-inject-sdevent
tests_adapters_test_inject_sdevent_SOURCES = tests/adapters/test-inject-sdevent.c
tests_adapters_test_inject_sdevent_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(SDEVENT_CFLAGS)
tests_adapters_test_inject_sdevent_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_sdevent_LDADD = lib/adapters/libosevent-sdevent.la $(OSEV_INJECT_LDADD) $(SDEVENT_LIBS)
endif

if HAVE_VIRT
# The attach suite inspects libvirt's default loop, GLib's default
# context, as test-virt does; the bridge's suite runs in a program of its
# own, since libvirt's event implementation is registered once per
# process and the two want different ones.
if HAVE_GLIB
check_PROGRAMS += tests/adapters/test-inject-virt
TESTS += tests/adapters/test-inject-virt
tests_adapters_test_inject_virt_SOURCES = tests/adapters/test-inject-virt.c $(OSEV_GLIB_PROBE)
tests_adapters_test_inject_virt_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(VIRT_CFLAGS) $(GLIB_CFLAGS)
tests_adapters_test_inject_virt_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_virt_LDADD = lib/adapters/libosevent-virt.la $(OSEV_INJECT_LDADD) $(VIRT_LIBS) $(GLIB_LIBS)
endif
check_PROGRAMS += tests/adapters/test-inject-virt-bridge
TESTS += tests/adapters/test-inject-virt-bridge
tests_adapters_test_inject_virt_bridge_SOURCES = tests/adapters/test-inject-virt-bridge.c
tests_adapters_test_inject_virt_bridge_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(VIRT_CFLAGS)
tests_adapters_test_inject_virt_bridge_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_virt_bridge_LDADD = lib/adapters/libosevent-virt.la $(OSEV_INJECT_LDADD) $(VIRT_LIBS)
endif
endif
