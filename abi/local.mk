# ABI baselines: abi/<library>.abi for each installed library (the core,
# each adapter and bridge: every lib_LTLIBRARIES this build has), written
# by abidw.  `make abi-check` compares the libraries just built with them
# (abi/abi.sh says how) and fails on a removed or changed interface and
# on a library without a baseline; scripts/check (CI) runs it.
# `make abi-update` rewrites them from this build, for a deliberate
# change: commit abi/ with it.  ABI_STRICT=1 also fails on additions not
# yet recorded.
ABI_STRICT = 0
abi-check: $(lib_LTLIBRARIES)
	ABI_STRICT=$(ABI_STRICT) $(SHELL) $(srcdir)/abi/abi.sh check \
		$(srcdir) $(lib_LTLIBRARIES)
abi-update: $(lib_LTLIBRARIES)
	$(SHELL) $(srcdir)/abi/abi.sh update $(srcdir) $(lib_LTLIBRARIES)
.PHONY: abi-check abi-update
EXTRA_DIST += abi
CLEANFILES += abi-current/*.abi abi-current/*.diff
# The check's own test: its verdicts on altered baselines (make check).
TESTS += abi/abi-test.sh
