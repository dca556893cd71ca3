# Benchmarks: built by `make bench`, never part of `make check` (speed
# targets do not belong in timed unit tests).
EXTRA_PROGRAMS = bench/pull-bench
bench_pull_bench_SOURCES = bench/pull-bench.c
bench_pull_bench_LDADD = lib/libosevent.la
EXTRA_DIST += bench/run-bench.sh
CLEANFILES += bench/pull-bench

bench: bench/pull-bench$(EXEEXT)
	$(SHELL) $(srcdir)/bench/run-bench.sh $(builddir)
.PHONY: bench
