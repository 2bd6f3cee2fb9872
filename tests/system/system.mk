# tests/system/: Xen 4.17 and a Debian dom0 under QEMU running this tree's
# Xenia (see tests/system/README.md). `make system-test` runs them alone
# with the build in $(BUILD) installed into the image; `make test` runs
# them as its last phase (scripts/run-tests). Included from the top
# Makefile.
system-test: all
	XENIA_ISO_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/system

# The system benchmarks (bench/system_bench.py) alone.
system-bench: all
	XENIA_ISO_BUILD=$(abspath $(BUILD)) /usr/bin/python3 bench/system_bench.py

.PHONY: system-test system-bench
