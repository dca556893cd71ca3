# The fuzz harness: replayed from a fixed seed in `make check` (so the
# sanitizer and valgrind runs cover it); `make fuzz` builds the libFuzzer
# target with clang and runs it for FUZZ_SECONDS.
check_PROGRAMS += fuzz/fuzz-registry-replay
TESTS += fuzz/fuzz-registry-replay
fuzz_fuzz_registry_replay_SOURCES = fuzz/fuzz-registry.c
fuzz_fuzz_registry_replay_LDADD = lib/libosevent.la

FUZZ_SECONDS = 60
fuzz: $(srcdir)/fuzz/fuzz-registry.c $(lib_libosevent_la_SOURCES:%=$(srcdir)/%)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -DOSEV_LIBFUZZER \
		-DOSEV_BUILDING_LIBRARY -I$(top_srcdir)/include -I$(top_builddir) \
		$(srcdir)/fuzz/fuzz-registry.c \
		$(filter %.c,$(lib_libosevent_la_SOURCES:%=$(srcdir)/%)) \
		-o fuzz/fuzz-registry $(LIBS)
	mkdir -p fuzz/corpus
	fuzz/fuzz-registry -max_total_time=$(FUZZ_SECONDS) fuzz/corpus
.PHONY: fuzz
CLEANFILES += fuzz/fuzz-registry fuzz/fuzz-registry-replay.valgrind
