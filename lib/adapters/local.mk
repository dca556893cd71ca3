# Adapters: one small library per foreign loop, each built only where
# configure found the loop (HAVE_<LOOP>).  What they share is compiled once
# into a convenience library, hidden inside each.  Their real-loop tests
# share one scenario (tests/adapters/scenario.c).
noinst_LTLIBRARIES = lib/adapters/libosev-adapter.la
lib_adapters_libosev_adapter_la_SOURCES = lib/adapters/adapter.c \
	lib/adapters/adapter.h
lib_adapters_libosev_adapter_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

# Flags every adapter library uses (its own _CFLAGS/_LIBS come on top).
OSEV_ADAPTER_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/adapters \
	-DOSEV_BUILDING_LIBRARY
OSEV_ADAPTER_LDFLAGS = -version-info $(OSEV_LT_VERSION) -no-undefined
OSEV_ADAPTER_LIBADD = lib/adapters/libosev-adapter.la lib/libosevent.la

if HAVE_CHECK
check_LTLIBRARIES += tests/adapters/libscenario.la
tests_adapters_libscenario_la_SOURCES = tests/adapters/scenario.c \
	tests/adapters/scenario.h
tests_adapters_libscenario_la_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS)
tests_adapters_libscenario_la_LIBADD = tests/libtestutil.la
endif
OSEV_SCENARIO_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	-I$(top_srcdir)/tests/adapters
OSEV_SCENARIO_LDADD = tests/adapters/libscenario.la lib/libosevent.la \
	$(CHECK_LIBS)
# What a GMainContext polls: compiled into the tests that look into GLib
# (test-glib, test-virt, test-verto's glib module), only where it is found.
OSEV_GLIB_PROBE = tests/adapters/glib-probe.c tests/adapters/glib-probe.h

TESTS += tests/adapters/symbols.sh
EXTRA_DIST += tests/adapters/symbols.sh

include $(srcdir)/lib/adapters/glib.mk
include $(srcdir)/lib/adapters/libevent.mk
include $(srcdir)/lib/adapters/libev.mk
include $(srcdir)/lib/adapters/libuv.mk
include $(srcdir)/lib/adapters/tevent.mk
include $(srcdir)/lib/adapters/verto.mk
include $(srcdir)/lib/adapters/sdevent.mk
include $(srcdir)/lib/adapters/virt.mk
include $(srcdir)/lib/adapters/wayland.mk
include $(srcdir)/lib/adapters/qt.mk
include $(srcdir)/tests/adapters/inject.mk
