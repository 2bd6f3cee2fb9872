"""The booted dom0 itself, before any of Xenia's VM logic: Xen 4.17 runs,
Xenia's services are up, and `xl create` of the guest kit starts a PV
guest that prints its marker and powers itself off. This validates the
image and the guest kit independently of domaind's xen backend."""

import uuid

from xenhost import GUEST_KIT, wait_until


def test_xen_417_runs_with_credit2(host):
    out = host.run("xl info").stdout
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    assert info["xen_major"] == "4" and info["xen_minor"] == "17", out
    assert info["xen_scheduler"] == "credit2", out
    assert int(info["nr_cpus"]) == 2, out


def test_xapi_service_is_active(host):
    assert host.run("systemctl is-active xenia-xapi.service", check=False).stdout.strip() == \
        "active"


def test_guest_console_logging_is_on(host):
    out = host.run("cat /proc/$(pidof xenconsoled)/cmdline | tr '\\0' ' '").stdout
    assert "--log=guest" in out and "--log-dir=/var/log/xen/console" in out, out


def _xl_create(host, name, mode):
    cfg = "\n".join([
        'name = "%s"' % name,
        'type = "pv"',
        'kernel = "%s/vmlinuz"' % GUEST_KIT,
        'ramdisk = "%s/initrd.img"' % GUEST_KIT,
        'extra = "console=hvc0 xenia.mode=%s"' % mode,
        "memory = 128",
        "vcpus = 1",
        'on_poweroff = "destroy"',
        'on_reboot = "restart"',
        'on_crash = "destroy"',
    ])
    host.run("cat > /tmp/%s.cfg <<'EOF'\n%s\nEOF\nxl create /tmp/%s.cfg" % (name, cfg, name),
             timeout=180)


def _domid(host, name):
    r = host.run("xl domid %s" % name, check=False)
    return int(r.stdout) if r.returncode == 0 else None


def _console(host, name):
    return host.run("cat /var/log/xen/console/guest-%s.log 2>/dev/null || true" % name).stdout


def test_xl_create_guest_kit_powers_itself_off(host):
    name = "xl-poweroff-" + uuid.uuid4().hex[:8]
    _xl_create(host, name, "poweroff")
    wait_until(lambda: _domid(host, name) is None, 180, 2.0, "the guest to power off")
    log = _console(host, name)
    assert "XENIA-GUEST-KIT up: mode poweroff" in log, log[-2000:]
    assert "XENIA-GUEST-KIT stopping: poweroff" in log, log[-2000:]


def test_xl_shutdown_of_a_guest_that_stays_up(host):
    name = "xl-stay-" + uuid.uuid4().hex[:8]
    _xl_create(host, name, "stay")
    try:
        wait_until(lambda: "XENIA-GUEST-KIT up: mode stay" in _console(host, name), 180, 2.0,
                   "the guest's marker")
        first = _domid(host, name)
        assert first is not None
        # A reboot request: the guest's init reboots, xl restarts it.
        host.run("xl reboot %s" % name, timeout=60)
        wait_until(lambda: (_domid(host, name) or first) != first, 180, 2.0,
                   "the rebooted guest's new domid")
        wait_until(lambda: _console(host, name).count("XENIA-GUEST-KIT up") >= 2, 180, 2.0,
                   "the marker after the reboot")
        host.run("xl shutdown -w %s" % name, timeout=180)
        assert _domid(host, name) is None
        assert "XENIA-GUEST-KIT stopping: poweroff" in _console(host, name)
    finally:
        host.run("xl destroy %s 2>/dev/null || true" % name, timeout=60, check=False)
