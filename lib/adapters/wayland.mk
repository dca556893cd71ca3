# The Wayland adapter: libosevent-wayland, <osevent-wayland.h>,
# osevent-wayland.pc: a Wayland server's wl_event_loop (libwayland-server).
EXTRA_DIST += osevent-wayland.pc.in
if HAVE_WAYLAND
include_HEADERS += include/osevent-wayland.h
lib_LTLIBRARIES += lib/adapters/libosevent-wayland.la
lib_adapters_libosevent_wayland_la_SOURCES = lib/adapters/wayland.c
lib_adapters_libosevent_wayland_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(WAYLAND_CFLAGS)
lib_adapters_libosevent_wayland_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_wayland_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(WAYLAND_LIBS)
lib_adapters_libosevent_wayland_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_wayland_'
pkgconfig_DATA += osevent-wayland.pc
dist_man3_MANS += docs/man/osev_wayland_attach.3 docs/man/osev_wayland_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-wayland tests/adapters/test-inject-wayland
TESTS += tests/adapters/test-wayland tests/adapters/test-inject-wayland
tests_adapters_test_wayland_SOURCES = tests/adapters/test-wayland.c \
	tests/adapters/epoll-set.c tests/adapters/epoll-set.h
tests_adapters_test_wayland_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(WAYLAND_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_wayland_LDADD = lib/adapters/libosevent-wayland.la $(OSEV_SCENARIO_LDADD) $(WAYLAND_LIBS)
tests_adapters_test_inject_wayland_SOURCES = tests/adapters/test-inject-wayland.c \
	tests/adapters/epoll-set.c tests/adapters/epoll-set.h
tests_adapters_test_inject_wayland_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(WAYLAND_CFLAGS)
tests_adapters_test_inject_wayland_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_wayland_LDADD = lib/adapters/libosevent-wayland.la $(OSEV_INJECT_LDADD) $(WAYLAND_LIBS)
endif
endif
