# hypervisor/: domaind, the agent that creates and controls domains. Every
# source but main.c also goes into a library that the unit tests link
# (tests/unit/test-domaind-*.c). The xen backend (xen*.c) is built on
# libxl from Debian's libxen-dev; only what links it needs Xen's libraries,
# so the sim's tests do not. Included from the top Makefile.
DOMAIND_SRCS := $(filter-out hypervisor/main.c,$(wildcard hypervisor/*.c))
DOMAIND_OBJS := $(DOMAIND_SRCS:%.c=$(BUILD)/%.o)

XEN_PKGS := xenlight xenstore xentoollog
XEN_CFLAGS = $(shell pkg-config --cflags $(XEN_PKGS))
XEN_LIBS = $(shell pkg-config --libs $(XEN_PKGS))

all: $(BUILD)/domaind

$(BUILD)/hypervisor/xen%.o $(BUILD)/hypervisor/main.o $(BUILD)/tests/unit/test-domaind-xen%.o: \
	ALL_CFLAGS += $(XEN_CFLAGS)

$(BUILD)/libdomaind.a: $(DOMAIND_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/domaind: $(BUILD)/hypervisor/main.o $(BUILD)/libdomaind.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(XEN_LIBS) $(LIBS)

# The xen backend's unit tests need no hypervisor, only libxl's pure
# functions (and yajl, which libxl's JSON generators take).
$(BUILD)/tests/unit/test-domaind-xen-config.o: ALL_CFLAGS += -DHAVE_YAJL_YAJL_VERSION_H
UNIT_LIBS_domaind-xen-config = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a $(XEN_LIBS) -lyajl
UNIT_LIBS_domaind-xen-image = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a $(XEN_LIBS)
UNIT_LIBS_domaind-xen-nbd = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a $(XEN_LIBS)
$(BUILD)/tests/unit/test-domaind-xen-config $(BUILD)/tests/unit/test-domaind-xen-image \
	$(BUILD)/tests/unit/test-domaind-xen-nbd: $(BUILD)/libdomaind.a

# The nic checks of hot-plug (nic.c), tested on their own.
UNIT_LIBS_domaind-nic = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a
$(BUILD)/tests/unit/test-domaind-nic: $(BUILD)/libdomaind.a

# The table of domains both backends share, tested on its own.
UNIT_LIBS_domaind-domtable = $(BUILD)/libdomaind.a $(BUILD)/libxenia.a
$(BUILD)/tests/unit/test-domaind-domtable: $(BUILD)/libdomaind.a
