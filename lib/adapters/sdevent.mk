# The sdevent adapter: libosevent-sdevent, <osevent-sdevent.h>, osevent-sdevent.pc.
if HAVE_SDEVENT
include_HEADERS += include/osevent-sdevent.h
lib_LTLIBRARIES += lib/adapters/libosevent-sdevent.la
lib_adapters_libosevent_sdevent_la_SOURCES = lib/adapters/sdevent.c
lib_adapters_libosevent_sdevent_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(SDEVENT_CFLAGS)
lib_adapters_libosevent_sdevent_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_adapters_libosevent_sdevent_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(SDEVENT_LIBS)
lib_adapters_libosevent_sdevent_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_sdevent_'
pkgconfig_DATA += osevent-sdevent.pc
dist_man3_MANS += docs/man/osev_sdevent_attach.3 docs/man/osev_sdevent_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/adapters/test-sdevent
TESTS += tests/adapters/test-sdevent
tests_adapters_test_sdevent_SOURCES = tests/adapters/test-sdevent.c \
	tests/adapters/epoll-set.c tests/adapters/epoll-set.h
tests_adapters_test_sdevent_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(SDEVENT_CFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_sdevent_LDADD = lib/adapters/libosevent-sdevent.la $(OSEV_SCENARIO_LDADD) $(SDEVENT_LIBS)
endif
endif
