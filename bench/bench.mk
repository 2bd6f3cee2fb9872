# bench/: the load generator and probes that scripts/run-bench drives
# (`make bench`). Built with the same flags as everything else, linked with
# OpenSSL (the TLS client) and json-c only.
BENCH_LIBS = $(shell pkg-config --libs openssl json-c) -lpthread

$(BUILD)/bench/xbench: $(BUILD)/bench/xbench.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LIBS)

bench: $(BUILD)/bench/xbench
