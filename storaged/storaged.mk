# storaged/: the storage agent. Every source but main.c also goes into a
# library that the unit tests link (tests/unit/test-storaged-*.c). Included
# from the top Makefile.
# The binary is $(BUILD)/storaged, so the objects cannot live in
# $(BUILD)/storaged/ as the generic rule would put them: they go to
# $(BUILD)/obj-storaged/.
STORAGED_SRCS := $(filter-out storaged/main.c,$(wildcard storaged/*.c))
STORAGED_OBJS := $(STORAGED_SRCS:storaged/%.c=$(BUILD)/obj-storaged/%.o)

$(BUILD)/obj-storaged/%.o: storaged/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

all: $(BUILD)/storaged

$(BUILD)/libstoraged.a: $(STORAGED_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/storaged: $(BUILD)/obj-storaged/main.o $(BUILD)/libstoraged.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The unit tests of storaged's pure parts (tests/unit/test-storaged-*.c)
# link its library.
STORAGED_UNIT := $(patsubst tests/unit/test-%.c,%,$(wildcard tests/unit/test-storaged-*.c))
$(foreach t,$(STORAGED_UNIT),$(eval UNIT_LIBS_$(t) = $(BUILD)/libstoraged.a $(BUILD)/libxenia.a))
$(STORAGED_UNIT:%=$(BUILD)/tests/unit/test-%): $(BUILD)/libstoraged.a

install-storaged: $(BUILD)/storaged
	install -D -m 0755 $(BUILD)/storaged $(DESTDIR)$(PREFIX)/sbin/storaged
	install -d -m 0700 $(DESTDIR)/var/lib/xenia/sr-mounts

INSTALL_TARGETS += install-storaged
.PHONY: install-storaged
