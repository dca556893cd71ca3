# The virt adapter: libosevent-virt, <osevent-virt.h>, osevent-virt.pc.
# Both directions: libvirt's loop hosts a context (virt.c), and a context
# is libvirt's event implementation (virt-bridge.c).
if HAVE_VIRT
include_HEADERS += include/osevent-virt.h
lib_LTLIBRARIES += lib/adapters/libosevent-virt.la
lib_adapters_libosevent_virt_la_SOURCES = lib/adapters/virt.c \
	lib/adapters/virt-bridge.c
lib_adapters_libosevent_virt_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(VIRT_CFLAGS)
lib_adapters_libosevent_virt_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_virt_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(VIRT_LIBS)
lib_adapters_libosevent_virt_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_virt_'
pkgconfig_DATA += osevent-virt.pc
dist_man3_MANS += docs/man/osev_virt_attach.3 docs/man/osev_virt_detach.3 \
	docs/man/osev_virt_register_impl.3

# The example: lifecycle events of libvirt's test driver, through the
# bridge and osev_event_wait(); its --self-test runs in make check.
noinst_PROGRAMS += examples/virt-events
examples_virt_events_SOURCES = examples/virt-events.c
examples_virt_events_CPPFLAGS = $(AM_CPPFLAGS) $(VIRT_CFLAGS)
examples_virt_events_LDADD = lib/adapters/libosevent-virt.la lib/libosevent.la \
	$(VIRT_LIBS)
TESTS += examples/virt-events-selftest.sh
EXTRA_DIST += examples/virt-events-selftest.sh

if HAVE_CHECK
# The shared scenario in libvirt's default loop.  That loop is GLib's
# default main context (libvirt >= 6.1), which the test inspects to show
# that nothing of ours is left in it: built only where GLib is found.
if HAVE_GLIB
check_PROGRAMS += tests/adapters/test-virt
TESTS += tests/adapters/test-virt
tests_adapters_test_virt_SOURCES = tests/adapters/test-virt.c \
	$(OSEV_GLIB_PROBE)
tests_adapters_test_virt_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(VIRT_CFLAGS) \
	$(GLIB_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_virt_LDADD = lib/adapters/libosevent-virt.la \
	$(OSEV_SCENARIO_LDADD) $(VIRT_LIBS) $(GLIB_LIBS)
endif

# The bridge, with libvirt's test driver (test:///default, no daemon).
check_PROGRAMS += tests/adapters/test-virt-bridge
TESTS += tests/adapters/test-virt-bridge
tests_adapters_test_virt_bridge_SOURCES = tests/adapters/test-virt-bridge.c
tests_adapters_test_virt_bridge_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) \
	$(VIRT_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_virt_bridge_LDADD = lib/adapters/libosevent-virt.la \
	tests/libtestutil.la lib/libosevent.la $(CHECK_LIBS) $(VIRT_LIBS)
endif
endif
