# networkd/: the network agent. Every source but main.c also goes into a
# library the unit tests link (tests/unit/test-networkd*.c). Included from
# the top Makefile. Objects go to $(BUILD)/networkd-objs/, since
# $(BUILD)/networkd is the daemon itself.
NETWORKD_SRCS := $(filter-out networkd/main.c,$(wildcard networkd/*.c))
NETWORKD_OBJS := $(NETWORKD_SRCS:networkd/%.c=$(BUILD)/networkd-objs/%.o)
NETWORKD_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0)
NETWORKD_LIBS := $(shell pkg-config --libs libnl-route-3.0)

all: $(BUILD)/networkd

$(BUILD)/networkd-objs/%.o: networkd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(NETWORKD_CFLAGS) -c -o $@ $<


$(BUILD)/libnetworkd.a: $(NETWORKD_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/networkd: $(BUILD)/networkd-objs/main.o $(BUILD)/libnetworkd.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NETWORKD_LIBS)

install-networkd: $(BUILD)/networkd
	install -D -m 0755 $(BUILD)/networkd $(DESTDIR)$(PREFIX)/sbin/networkd
	install -D -m 0755 networkd/dhclient-script \
		$(DESTDIR)$(PREFIX)/libexec/xenia/networkd-dhclient-script
	install -d $(DESTDIR)/var/lib/xenia

INSTALL_TARGETS += install-networkd
.PHONY: install-networkd

# The unit tests of the pure parts (tests/unit/test-networkd-*.c) link
# this library; tests/unit/unit.mk has the rule.
NETWORKD_UNIT := $(patsubst tests/unit/test-%.c,%,$(wildcard tests/unit/test-networkd*.c))
$(foreach t,$(NETWORKD_UNIT),$(eval UNIT_LIBS_$(t) = $$(BUILD)/libnetworkd.a $$(BUILD)/libxenia.a $$(NETWORKD_LIBS)))
$(NETWORKD_UNIT:%=$(BUILD)/tests/unit/test-%): $(BUILD)/libnetworkd.a
