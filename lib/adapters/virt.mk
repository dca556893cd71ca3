# The virt adapter: libosevent-virt, <osevent-virt.h>, osevent-virt.pc.
if HAVE_VIRT
include_HEADERS += include/osevent-virt.h
lib_LTLIBRARIES += lib/adapters/libosevent-virt.la
lib_adapters_libosevent_virt_la_SOURCES = lib/adapters/virt.c
lib_adapters_libosevent_virt_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(VIRT_CFLAGS)
lib_adapters_libosevent_virt_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_virt_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(VIRT_LIBS)
lib_adapters_libosevent_virt_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_virt_'
pkgconfig_DATA += osevent-virt.pc
dist_man3_MANS += docs/man/osev_virt_attach.3 docs/man/osev_virt_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-virt
TESTS += tests/adapters/test-virt
tests_adapters_test_virt_SOURCES = tests/adapters/test-virt.c
tests_adapters_test_virt_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(VIRT_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_virt_LDADD = lib/adapters/libosevent-virt.la $(OSEV_SCENARIO_LDADD) $(VIRT_LIBS)
endif
endif
