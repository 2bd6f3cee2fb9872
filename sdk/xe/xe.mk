# sdk/xe/: the thin xe client. Included from the top Makefile. OpenSSL is
# not linked: conn.c loads it when a TLS connection is made, which keeps it
# out of the start-up of every local command.
XE_OBJS := $(BUILD)/sdk/xe/xe.o $(BUILD)/sdk/xe/conn.o $(BUILD)/sdk/xe/transfer.o

all: $(BUILD)/xe

$(BUILD)/xe: $(XE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

install-xe: $(BUILD)/xe
	install -D -m 0755 $(BUILD)/xe $(DESTDIR)$(PREFIX)/bin/xe
	install -D -m 0644 sdk/xe/xe-completion.bash $(DESTDIR)/usr/share/bash-completion/completions/xe

INSTALL_TARGETS += install-xe
.PHONY: install-xe
