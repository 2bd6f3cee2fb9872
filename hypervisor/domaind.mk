# hypervisor/: domaind, the agent that creates and controls domains. Every
# source but main.c also goes into a library that the unit tests link
# (tests/unit/test-domaind-sim.c). Included from the top Makefile.
DOMAIND_SRCS := $(filter-out hypervisor/main.c,$(wildcard hypervisor/*.c))
DOMAIND_OBJS := $(DOMAIND_SRCS:%.c=$(BUILD)/%.o)

all: $(BUILD)/domaind

$(BUILD)/libdomaind.a: $(DOMAIND_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/domaind: $(BUILD)/hypervisor/main.o $(BUILD)/libdomaind.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
