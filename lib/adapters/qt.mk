# The Qt adapter: libosevent-qt, <osevent-qt.h>, osevent-qt.pc.  C++
# (lib/adapters/qt.cpp) behind a C header; no moc.  configure looks for
# Qt in lib/adapters/qt.m4.
EXTRA_DIST += osevent-qt.pc.in lib/adapters/qt.m4
if HAVE_QT
include_HEADERS += include/osevent-qt.h
lib_LTLIBRARIES += lib/adapters/libosevent-qt.la
lib_adapters_libosevent_qt_la_SOURCES = lib/adapters/qt.cpp
lib_adapters_libosevent_qt_la_CPPFLAGS = $(OSEV_ADAPTER_CPPFLAGS) $(QT_CFLAGS)
lib_adapters_libosevent_qt_la_CXXFLAGS = $(OSEV_CXXFLAGS) $(OSEV_QT_CXXFLAGS) -fvisibility=hidden \
	-fvisibility-inlines-hidden
lib_adapters_libosevent_qt_la_LIBADD = $(OSEV_ADAPTER_LIBADD) $(QT_LIBS)
lib_adapters_libosevent_qt_la_LDFLAGS = $(OSEV_ADAPTER_LDFLAGS) -export-symbols-regex '^osev_qt_'
pkgconfig_DATA += osevent-qt.pc
dist_man3_MANS += docs/man/osev_qt_attach.3 docs/man/osev_qt_detach.3

if HAVE_CHECK
# test-qt runs the scenario under the dispatcher Qt picks (its GLib one
# where Qt has GLib), test-qt-unix under Qt's own (QT_NO_GLIB).  The probe
# of what the dispatcher holds looks into GLib where GLib is found.
OSEV_QT_TEST_SOURCES = tests/adapters/qt-probe.cpp tests/adapters/qt-probe.h
OSEV_QT_TEST_CPPFLAGS = $(QT_CFLAGS)
OSEV_QT_TEST_LIBS = $(QT_LIBS)
if HAVE_GLIB
OSEV_QT_TEST_SOURCES += $(OSEV_GLIB_PROBE)
OSEV_QT_TEST_CPPFLAGS += -DOSEV_TEST_QT_GLIB_PROBE $(GLIB_CFLAGS)
OSEV_QT_TEST_LIBS += $(GLIB_LIBS)
check_PROGRAMS += tests/adapters/test-qt-unix
TESTS += tests/adapters/test-qt-unix
tests_adapters_test_qt_unix_SOURCES = tests/adapters/test-qt.cpp $(OSEV_QT_TEST_SOURCES)
tests_adapters_test_qt_unix_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(OSEV_QT_TEST_CPPFLAGS) \
	$(CHECK_CFLAGS) -DOSEV_TEST_QT_NO_GLIB
tests_adapters_test_qt_unix_CXXFLAGS = $(OSEV_CXXFLAGS) $(OSEV_QT_CXXFLAGS)
tests_adapters_test_qt_unix_LDADD = lib/adapters/libosevent-qt.la $(OSEV_SCENARIO_LDADD) $(OSEV_QT_TEST_LIBS)
endif
check_PROGRAMS += tests/adapters/test-qt tests/adapters/test-inject-qt
TESTS += tests/adapters/test-qt tests/adapters/test-inject-qt
tests_adapters_test_qt_SOURCES = tests/adapters/test-qt.cpp $(OSEV_QT_TEST_SOURCES)
tests_adapters_test_qt_CPPFLAGS = $(OSEV_SCENARIO_CPPFLAGS) $(OSEV_QT_TEST_CPPFLAGS) $(CHECK_CFLAGS)
tests_adapters_test_qt_CXXFLAGS = $(OSEV_CXXFLAGS) $(OSEV_QT_CXXFLAGS)
tests_adapters_test_qt_LDADD = lib/adapters/libosevent-qt.la $(OSEV_SCENARIO_LDADD) $(OSEV_QT_TEST_LIBS)
tests_adapters_test_inject_qt_SOURCES = tests/adapters/test-inject-qt.cpp $(OSEV_QT_TEST_SOURCES)
tests_adapters_test_inject_qt_CPPFLAGS = $(OSEV_INJECT_CPPFLAGS) $(OSEV_QT_TEST_CPPFLAGS)
tests_adapters_test_inject_qt_CXXFLAGS = $(OSEV_CXXFLAGS) $(OSEV_QT_CXXFLAGS)
tests_adapters_test_inject_qt_LDFLAGS = $(OSEV_INJECT_LINKFLAGS)
tests_adapters_test_inject_qt_LDADD = lib/adapters/libosevent-qt.la $(OSEV_INJECT_LDADD) $(OSEV_QT_TEST_LIBS)
endif
endif
