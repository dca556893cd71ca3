# The fuzz harness, built three ways:
#  - fuzz/fuzz-registry-replay, in `make check`: replays the committed
#    corpus (fuzz/corpus) and pseudo-random inputs from a fixed seed, so
#    the sanitizer and valgrind runs of the suite cover it too;
#  - `make fuzz`: the libFuzzer target (clang, ASan + UBSan), run for
#    FUZZ_SECONDS from the committed corpus; new inputs go to
#    fuzz/corpus-work in the build tree, crashes to fuzz/crash-*;
#  - `make coverage`: a clang build with source-based coverage replays
#    the committed corpus and prints the lines of lib/*.c it reaches.
# `make fuzz-merge` folds fuzz/corpus-work into the committed corpus,
# keeping only inputs that add coverage (libFuzzer's -merge=1).
check_PROGRAMS += fuzz/fuzz-registry-replay
TESTS += fuzz/fuzz-registry-replay
fuzz_fuzz_registry_replay_SOURCES = fuzz/fuzz-registry.c
fuzz_fuzz_registry_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DOSEV_FUZZ_CORPUS='"$(abs_top_srcdir)/fuzz/corpus"'
fuzz_fuzz_registry_replay_LDADD = lib/libosevent.la
EXTRA_DIST += fuzz/corpus

FUZZ_SECONDS = 60
FUZZ_FLAGS = -timeout=10 -max_len=4096 -len_control=20
fuzz_cc = clang -g -DOSEV_BUILDING_LIBRARY -I$(top_srcdir)/include \
	-I$(top_builddir)/include -I$(top_builddir)

# (GNU make: the sources are the .c prerequisites.)
fuzz_deps = $(srcdir)/fuzz/fuzz-registry.c \
	$(lib_libosevent_la_SOURCES:%=$(srcdir)/%)

fuzz/fuzz-registry: $(fuzz_deps)
	@mkdir -p fuzz
	$(fuzz_cc) -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -DOSEV_LIBFUZZER \
		$(filter %.c,$^) -o $@ $(LIBS)

fuzz: fuzz/fuzz-registry
	@mkdir -p fuzz/corpus-work
	fuzz/fuzz-registry $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -artifact_prefix=fuzz/ \
		fuzz/corpus-work $(srcdir)/fuzz/corpus

fuzz-merge: fuzz/fuzz-registry
	rm -rf fuzz/corpus-merged && mkdir -p fuzz/corpus-merged fuzz/corpus-work
	fuzz/fuzz-registry $(FUZZ_FLAGS) -merge=1 -use_counters=0 fuzz/corpus-merged \
		$(srcdir)/fuzz/corpus fuzz/corpus-work
	rm -rf $(srcdir)/fuzz/corpus
	mv fuzz/corpus-merged $(srcdir)/fuzz/corpus

# Coverage of the core (lib/*.c, not the adapters) by the committed
# corpus alone, per file: llvm-cov's lines are those with code.
fuzz/fuzz-registry-cov: $(fuzz_deps)
	@mkdir -p fuzz
	$(fuzz_cc) -O0 -fprofile-instr-generate -fcoverage-mapping \
		$(filter %.c,$^) -o $@ $(LIBS)

coverage: fuzz/fuzz-registry-cov
	rm -f fuzz/cov-*.profraw
	LLVM_PROFILE_FILE=fuzz/cov-%p.profraw fuzz/fuzz-registry-cov \
		$(srcdir)/fuzz/corpus >fuzz/cov.log 2>&1 || \
		{ tail -n 20 fuzz/cov.log; exit 1; }
	llvm-profdata merge -sparse -o fuzz/cov.profdata fuzz/cov-*.profraw
	@echo "Lines of lib/*.c reached by replaying fuzz/corpus:"
	@llvm-cov report fuzz/fuzz-registry-cov -instr-profile=fuzz/cov.profdata \
		-show-region-summary=false -show-branch-summary=false \
		-ignore-filename-regex='/(fuzz|include)/|\.h$$'
.PHONY: fuzz fuzz-merge coverage
CLEANFILES += fuzz/fuzz-registry fuzz/fuzz-registry-cov \
	fuzz/fuzz-registry-replay.valgrind fuzz/cov.profdata fuzz/cov-*.profraw \
	fuzz/cov.log fuzz/fuzz.log
clean-local: clean-fuzz
clean-fuzz:
	rm -rf fuzz/corpus-work fuzz/corpus-merged
.PHONY: clean-fuzz
