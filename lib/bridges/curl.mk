# The curl bridge: libosevent-curl, <osevent-curl.h>, osevent-curl.pc.
EXTRA_DIST += osevent-curl.pc.in
if HAVE_CURL
include_HEADERS += include/osevent-curl.h
lib_LTLIBRARIES += lib/bridges/libosevent-curl.la
lib_bridges_libosevent_curl_la_SOURCES = lib/bridges/curl.c
lib_bridges_libosevent_curl_la_CPPFLAGS = $(OSEV_BRIDGE_CPPFLAGS) $(CURL_CFLAGS)
lib_bridges_libosevent_curl_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
lib_bridges_libosevent_curl_la_LIBADD = lib/libosevent.la $(CURL_LIBS)
lib_bridges_libosevent_curl_la_LDFLAGS = $(OSEV_BRIDGE_LINKFLAGS) -export-symbols-regex '^osev_curl_'
pkgconfig_DATA += osevent-curl.pc
dist_man3_MANS += docs/man/osev_curl_attach.3 docs/man/osev_curl_detach.3

if HAVE_CHECK
check_PROGRAMS += tests/bridges/test-curl
TESTS += tests/bridges/test-curl
tests_bridges_test_curl_SOURCES = tests/bridges/test-curl.c
tests_bridges_test_curl_CPPFLAGS = $(OSEV_BRIDGE_TEST_CPPFLAGS) $(CURL_CFLAGS)
tests_bridges_test_curl_LDADD = lib/bridges/libosevent-curl.la \
	$(OSEV_BRIDGE_TEST_LIBS) $(CURL_LIBS)
endif
endif
