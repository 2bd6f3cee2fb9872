# Unit tests (cmocka): every tests/unit/test-<name>.c is one binary, linked
# with the daemon's library and lib/. A test that needs more libraries names
# them in UNIT_LIBS_<name>. `make unit-tests` builds them all and `make
# check-unit` runs each and fails if any fails; with SAN=1 they are built
# under ASan and UBSan.
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)

# test-http drives the server with libcurl as the client.
UNIT_LIBS_http = $(shell pkg-config --libs libcurl)
# test-domaind-sim drives domaind's sim backend (hypervisor/domaind.mk).
UNIT_LIBS_domaind-sim = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a
$(BUILD)/tests/unit/test-domaind-sim: $(BUILD)/libdomaind.a

$(BUILD)/tests/unit/test-%: $(BUILD)/tests/unit/test-%.o $(BUILD)/libxapi.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_LIBS_$*) $(LIBS) -lcmocka

unit-tests: $(UNIT_BINS)

check-unit: unit-tests
	@failed=; \
	for t in $(UNIT_BINS); do \
		echo "== $$t"; \
		$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

.PHONY: unit-tests check-unit
