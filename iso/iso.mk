# iso/: the dom0 of a Xenia host. `make install` also installs the systemd
# units of xapi and the agents (iso/units/) and their folders; the root
# filesystem and disk images are made by iso/mkrootfs and iso/mkimage
# (see iso/README.md). Included from the top Makefile.
INSTALL_TARGETS += install-iso

install-iso:
	for u in iso/units/xenia-*.service; do \
		install -D -m 0644 $$u $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u) || exit 1; \
	done
	install -D -m 0644 iso/units/xenia.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/xenia.conf
	for u in ovsdb-server ovs-vswitchd; do \
		install -D -m 0644 iso/units/ovs-start-timeout.conf \
			$(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service.d/xenia-start-timeout.conf || exit 1; \
	done
	install -D -m 0755 iso/units/wait-socket $(DESTDIR)$(PREFIX)/libexec/xenia/wait-socket
	install -d $(DESTDIR)/etc/xenia $(DESTDIR)/var/lib/xenia $(DESTDIR)/var/log/xen/console

# The disk image that the system tests boot, with the gcc build in build-iso.
iso-image:
	iso/mkimage --out build-iso/image

.PHONY: install-iso iso-image
