# Benchmarks: built by `make` (so they keep compiling), run by `make
# bench`, never by `make check` (speed targets do not belong in timed unit
# tests).  One program per loop
# library, each linking only that library (and osevent's adapter for it),
# built only where configure found the library; bench/run runs them all
# and prints the tables.  -no-install: real executables in the build
# tree, so that valgrind and strace see the program, not libtool's
# wrapper script.
BENCH_NO_INSTALL = -no-install
PP_CORE = bench/pingpong.c bench/pingpong.h bench/phase.h
TM_CORE = bench/timers.c bench/timers.h bench/phase.h
REG_CORE = bench/reg.c bench/reg.h bench/phase.h
XT_CORE = bench/xthread.c bench/xthread.h bench/phase.h

noinst_PROGRAMS += bench/pp-raw bench/pp-osev
bench_pp_raw_SOURCES = $(PP_CORE) bench/pp-raw.c
bench_pp_raw_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_osev_SOURCES = $(PP_CORE) bench/pp-osev.c
bench_pp_osev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_osev_LDADD = lib/libosevent.la
bench_progs = bench/pp-raw$(EXEEXT) bench/pp-osev$(EXEEXT)
noinst_PROGRAMS += bench/tm-osev
bench_tm_osev_SOURCES = $(TM_CORE) bench/tm-osev.c
bench_tm_osev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_tm_osev_LDADD = lib/libosevent.la
bench_progs += bench/tm-osev$(EXEEXT)
noinst_PROGRAMS += bench/reg-osev bench/xt-osev
bench_reg_osev_SOURCES = $(REG_CORE) bench/reg-osev.c
bench_reg_osev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_reg_osev_LDADD = lib/libosevent.la
bench_xt_osev_SOURCES = $(XT_CORE) bench/xt-osev.c
bench_xt_osev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_xt_osev_LDADD = lib/libosevent.la -lpthread
bench_progs += bench/reg-osev$(EXEEXT) bench/xt-osev$(EXEEXT)

if HAVE_LIBUV
noinst_PROGRAMS += bench/pp-libuv
bench_pp_libuv_SOURCES = $(PP_CORE) bench/pp-libuv.c
bench_pp_libuv_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS)
bench_pp_libuv_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_libuv_LDADD = lib/adapters/libosevent-libuv.la lib/libosevent.la \
	$(LIBUV_LIBS)
bench_progs += bench/pp-libuv$(EXEEXT)
noinst_PROGRAMS += bench/tm-libuv
bench_tm_libuv_SOURCES = $(TM_CORE) bench/tm-libuv.c
bench_tm_libuv_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS)
bench_tm_libuv_LDFLAGS = $(BENCH_NO_INSTALL)
bench_tm_libuv_LDADD = $(LIBUV_LIBS)
bench_progs += bench/tm-libuv$(EXEEXT)
endif

if HAVE_LIBEV
noinst_PROGRAMS += bench/pp-libev
bench_pp_libev_SOURCES = $(PP_CORE) bench/pp-libev.c
bench_pp_libev_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
bench_pp_libev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_libev_LDADD = lib/adapters/libosevent-libev.la lib/libosevent.la \
	$(LIBEV_LIBS)
bench_progs += bench/pp-libev$(EXEEXT)
noinst_PROGRAMS += bench/tm-libev
bench_tm_libev_SOURCES = $(TM_CORE) bench/tm-libev.c
bench_tm_libev_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
bench_tm_libev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_tm_libev_LDADD = lib/adapters/libosevent-libev.la lib/libosevent.la \
	$(LIBEV_LIBS)
bench_progs += bench/tm-libev$(EXEEXT)
noinst_PROGRAMS += bench/reg-libev
bench_reg_libev_SOURCES = $(REG_CORE) bench/reg-libev.c
bench_reg_libev_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
bench_reg_libev_LDFLAGS = $(BENCH_NO_INSTALL)
bench_reg_libev_LDADD = lib/adapters/libosevent-libev.la lib/libosevent.la \
	$(LIBEV_LIBS)
bench_progs += bench/reg-libev$(EXEEXT)
endif

if HAVE_LIBEVENT
noinst_PROGRAMS += bench/pp-libevent
bench_pp_libevent_SOURCES = $(PP_CORE) bench/pp-libevent.c
bench_pp_libevent_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
bench_pp_libevent_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_libevent_LDADD = lib/adapters/libosevent-libevent.la \
	lib/libosevent.la $(LIBEVENT_LIBS)
bench_progs += bench/pp-libevent$(EXEEXT)
endif

if HAVE_GLIB
noinst_PROGRAMS += bench/pp-glib
bench_pp_glib_SOURCES = $(PP_CORE) bench/pp-glib.c
bench_pp_glib_CPPFLAGS = $(AM_CPPFLAGS) $(GLIB_CFLAGS)
bench_pp_glib_LDFLAGS = $(BENCH_NO_INSTALL)
bench_pp_glib_LDADD = lib/adapters/libosevent-glib.la lib/libosevent.la \
	$(GLIB_LIBS)
bench_progs += bench/pp-glib$(EXEEXT)
noinst_PROGRAMS += bench/xt-glib
bench_xt_glib_SOURCES = $(XT_CORE) bench/xt-glib.c
bench_xt_glib_CPPFLAGS = $(AM_CPPFLAGS) $(GLIB_CFLAGS)
bench_xt_glib_LDFLAGS = $(BENCH_NO_INSTALL)
bench_xt_glib_LDADD = $(GLIB_LIBS) -lpthread
bench_progs += bench/xt-glib$(EXEEXT)
endif

CLEANFILES += $(bench_progs) bench-results.md bench-ir.png
EXTRA_DIST += bench/run

bench-programs: $(bench_progs)
bench: bench-programs
	$(srcdir)/bench/run $(BENCH_ARGS) $(abs_builddir)
.PHONY: bench bench-programs
