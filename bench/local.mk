# Benchmarks: built by `make bench`, never part of `make check` (speed
# targets do not belong in timed unit tests).
BENCH_UTIL = bench/bench-util.c bench/bench-util.h
EXTRA_PROGRAMS = bench/pull-bench
bench_pull_bench_SOURCES = bench/pull-bench.c $(BENCH_UTIL)
bench_pull_bench_LDADD = lib/libosevent.la
EXTRA_DIST += bench/run-bench.sh
CLEANFILES += bench/pull-bench
# What `make bench` builds: push-bench only where the libevent adapter is.
bench_progs = bench/pull-bench$(EXEEXT)

if HAVE_LIBEVENT
EXTRA_PROGRAMS += bench/push-bench
bench_push_bench_SOURCES = bench/push-bench.c $(BENCH_UTIL)
bench_push_bench_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
bench_push_bench_LDADD = lib/adapters/libosevent-libevent.la lib/libosevent.la $(LIBEVENT_LIBS)
CLEANFILES += bench/push-bench
bench_progs += bench/push-bench$(EXEEXT)
endif

bench: $(bench_progs)
	$(SHELL) $(srcdir)/bench/run-bench.sh $(builddir)
.PHONY: bench
