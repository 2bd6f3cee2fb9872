# sdk/xe/: the thin xe client. Included from the top Makefile.
XE_OBJS := $(BUILD)/sdk/xe/xe.o

all: $(BUILD)/xe

$(BUILD)/xe: $(XE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs openssl)

install-xe: $(BUILD)/xe
	install -D -m 0755 $(BUILD)/xe $(DESTDIR)$(PREFIX)/bin/xe
	install -D -m 0644 sdk/xe/xe-completion.bash $(DESTDIR)/usr/share/bash-completion/completions/xe

INSTALL_TARGETS += install-xe
.PHONY: install-xe
