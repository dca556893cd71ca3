dnl qt.m4 - configure's look for Qt, for the Qt adapter (m4_include'd by
dnl configure.ac).  Qt 6's QtCore, or Qt 5's where only that is found,
dnl through pkg-config; then a C++ test that its headers compile with the
dnl C++ compiler configure found, in C++17 (what Qt 6 requires: -std=gnu++17
dnl is added where the compiler's default is older, as clang 14's is) and
dnl as position-independent code (Qt built with -reduce-relocations refuses
dnl anything else, executables included).  Sets HAVE_QT, QT_CFLAGS,
dnl QT_LIBS, OSEV_QT_CXXFLAGS (the -std option, C++ only: the Qt tests
dnl compile some C too), OSEV_QT_MODULE (for osevent-qt.pc) and a summary
dnl line.
AC_ARG_ENABLE([qt],
  [AS_HELP_STRING([--enable-qt],
    [build the Qt adapter, and fail if Qt6Core (or Qt5Core) is not found or does not compile; --disable-qt: never (default: when found)])],
  [], [enable_qt=auto])
have_qt=no
OSEV_QT_MODULE=
OSEV_QT_CXXFLAGS=
AS_IF([test "x$enable_qt" != xno], [
  PKG_CHECK_MODULES([QT], [Qt6Core], [OSEV_QT_MODULE=Qt6Core],
    [PKG_CHECK_MODULES([QT5], [Qt5Core >= 5.9],
      [OSEV_QT_MODULE=Qt5Core; QT_CFLAGS=$QT5_CFLAGS; QT_LIBS=$QT5_LIBS],
      [OSEV_QT_MODULE=])])
  AS_IF([test -n "$OSEV_QT_MODULE"], [
    QT_CFLAGS="$QT_CFLAGS -fPIC"
    AC_LANG_PUSH([C++])
    osev_qt_save_CPPFLAGS=$CPPFLAGS
    osev_qt_save_CXXFLAGS=$CXXFLAGS
    osev_qt_save_LIBS=$LIBS
    CPPFLAGS="$CPPFLAGS $QT_CFLAGS"
    LIBS="$QT_LIBS $LIBS"
    m4_define([osev_qt_probe], [AC_LANG_PROGRAM(
      [[#include <QtCore/QObject>
#include <QtCore/QSocketNotifier>
#if __cplusplus < 201703L
#error C++17 needed
#endif]],
      [[QObject o; return o.startTimer(1, Qt::PreciseTimer) < 0;]])])
    AC_MSG_CHECKING([whether $OSEV_QT_MODULE builds with $CXX])
    AC_LINK_IFELSE([osev_qt_probe], [have_qt=yes], [
      CXXFLAGS="$CXXFLAGS -std=gnu++17"
      AC_LINK_IFELSE([osev_qt_probe],
        [have_qt=yes; OSEV_QT_CXXFLAGS=-std=gnu++17])])
    AC_MSG_RESULT([$have_qt])
    CPPFLAGS=$osev_qt_save_CPPFLAGS
    CXXFLAGS=$osev_qt_save_CXXFLAGS
    LIBS=$osev_qt_save_LIBS
    AC_LANG_POP([C++])])
])
AS_IF([test "x$enable_qt" = xyes && test "x$have_qt" = xno],
  [AC_MSG_ERROR([--enable-qt: Qt6Core or Qt5Core not found, or its headers do not build with $CXX (see config.log)])])
AC_SUBST([OSEV_QT_MODULE])
AC_SUBST([OSEV_QT_CXXFLAGS])
AM_CONDITIONAL([HAVE_QT], [test "x$have_qt" = xyes])
osev_adapter_summary="$osev_adapter_summary
    qt adapter: $have_qt (${OSEV_QT_MODULE:-Qt6Core or Qt5Core}, C++17)"
