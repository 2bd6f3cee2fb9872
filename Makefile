# Xenia: top-level build. `make` builds everything with gcc into build/;
# `make test` runs every test layer; `make run` starts a local host;
# `make bench` prints the benchmarks' figures. See README.md.

CC ?= gcc
BUILD ?= build
PREFIX ?= /usr
DESTDIR ?=

PKGS := sqlite3 libmicrohttpd json-c libxml-2.0 openssl libcrypt
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wimplicit-fallthrough -Wvla -Wwrite-strings -Wundef -fno-common
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=gnu17 -D_GNU_SOURCE -I. $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LIBS = $(shell pkg-config --libs $(PKGS)) -lpam -lpthread -lm

all: $(BUILD)/xapi

include lib/lib.mk
include xapi-c/xapi.mk
include hypervisor/domaind.mk
# Components that are still growing add themselves here when their folder
# has a .mk of its own.
-include storaged/storaged.mk networkd/networkd.mk sdk/sdk.mk sdk/xe/xe.mk iso/iso.mk tests/system/system.mk
include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The test command of README.md: every layer, then one summary line.
test:
	@scripts/run-tests

run: all
	@scripts/run-host

bench: all
	@scripts/run-bench

# Each component's .mk adds its own files with install-<component> targets.
install: all $(INSTALL_TARGETS)
	install -D -m 0755 $(BUILD)/xapi $(DESTDIR)$(PREFIX)/sbin/xapi
	install -D -m 0755 $(BUILD)/domaind $(DESTDIR)$(PREFIX)/sbin/domaind
	install -D -m 0644 xapi-c/pam.d-xapi $(DESTDIR)/etc/pam.d/xapi
	install -d $(DESTDIR)/etc/xenia $(DESTDIR)/var/lib/xenia

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*

.PHONY: all test run bench install format clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
