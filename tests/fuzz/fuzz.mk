# libFuzzer targets, one per parser (tests/fuzz/fuzz-<name>.c). They are
# built with clang and sanitizers straight from the sources they exercise,
# listed in FUZZ_SRCS_<name>, and are not part of `make all`. `make
# fuzz-smoke` runs each for FUZZ_TIME seconds on a fresh corpus seeded from
# tests/fuzz/corpus/<name>/ and fails on any finding; the input that caused
# it is left in $(BUILD)/fuzz/.
FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_FLAGS = -std=gnu17 -D_GNU_SOURCE -I. $(WARN) -g -O1 \
             -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all $(shell pkg-config --cflags $(PKGS))

FUZZ_NAMES := xmlrpc jsonrpc cli networkd-config networkd-ovsdb storaged xva vhd
# Both wire decoders re-encode what they accept through the value writer.
FUZZ_RPC_SRCS := tests/fuzz/fuzz-rpc.c xapi-c/xmlrpc.c xapi-c/jsonrpc.c xapi-c/rpc.c xapi-c/xv.c xapi-c/out.c \
                 lib/strbuf.c lib/strlist.c lib/util.c
FUZZ_SRCS_xmlrpc := $(FUZZ_RPC_SRCS)
FUZZ_SRCS_jsonrpc := $(FUZZ_RPC_SRCS)
# The /cli body's tokeniser and the server side of the thin protocol.
FUZZ_SRCS_cli := xapi-c/cli/tokenise.c xapi-c/cli/proto.c lib/strbuf.c lib/util.c
# networkd's checks of what xapi sends (and the plan they feed), and its
# OVSDB reader.
FUZZ_SRCS_networkd-config := networkd/config.c networkd/plan.c networkd/tunnel.c networkd/jsonutil.c lib/jsonrpc.c \
                             lib/file.c lib/log.c lib/strbuf.c lib/util.c
FUZZ_SRCS_networkd-ovsdb := networkd/ovsdb.c networkd/jsonutil.c lib/log.c lib/strbuf.c lib/util.c
# What storaged reads from an SR's media (its metadata, qcow2 headers) and
# from lvm2 (JSON reports).
FUZZ_SRCS_storaged := storaged/meta.c storaged/chain.c storaged/qcow2.c storaged/lvm.c \
                      lib/hashmap.c lib/strbuf.c lib/util.c
# XVA archives arriving on PUT /import (tar members, ova.xml, checksums).
FUZZ_SRCS_xva := xapi-c/xva_format.c
# VHD images arriving on PUT /import_raw_vdi?format=vhd.
FUZZ_SRCS_vhd := lib/vhd.c

define fuzz_target
$(BUILD)/fuzz/fuzz-$(1): tests/fuzz/fuzz-$(1).c $$(FUZZ_SRCS_$(1)) $$(wildcard xapi-c/*.h lib/*.h storaged/*.h networkd/*.h)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ $$< $$(FUZZ_SRCS_$(1)) $$(LIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_target,$(n))))

fuzz: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz-%)

fuzz-smoke: fuzz
	@set -e; for n in $(FUZZ_NAMES); do \
		rm -rf $(BUILD)/fuzz/corpus-$$n; mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "== fuzz-$$n ($(FUZZ_TIME) s)"; \
		$(BUILD)/fuzz/fuzz-$$n -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/$$n- \
			$(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n; \
	done

.PHONY: fuzz fuzz-smoke
