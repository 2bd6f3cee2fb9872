"""The host messages that reach Xen itself, on real Xen through the API
(XML-RPC from outside QEMU): host.dmesg is Xen's console ring as `xl
dmesg` shows it, host.send_debug_keys reaches Xen's debug-key handler
(its answer lands in the ring), host.dmesg_clear empties the ring, and
the host's data sources follow what Xen and dom0 say. Never reboots or
renames the host."""

import pytest

from xenhost import XenAPIError, wait_until

WAIT = 120  # seconds: dom0 under emulation on a loaded machine


@pytest.fixture(scope="module")
def h(api):
    return api("host.get_all")[0]


def test_dmesg_is_xens_console_ring(host, api, h):
    text = api("host.dmesg", h)
    assert "Xen version 4.17" in text, text[:400]
    # The ring as xl reads it starts the same way (it only grows or wraps
    # between the two readings).
    xl = host.run("xl dmesg").stdout
    assert text.splitlines()[0] in xl


def test_debug_keys_reach_xen(host, api, h):
    # 'q' dumps the domains: Xen answers with its key banner in the ring.
    api("host.send_debug_keys", h, "q")
    wait_until(lambda: "'q' pressed" in api("host.dmesg", h), WAIT, interval=1,
               what="Xen's answer to debug key q")
    with pytest.raises(XenAPIError) as e:
        api("host.send_debug_keys", h, "a b")
    assert e.value.details == ["INVALID_VALUE", "keys", "a b"]


def test_dmesg_clear_empties_the_ring(host, api, h):
    api("host.send_debug_keys", h, "q")
    wait_until(lambda: "'q' pressed" in api("host.dmesg", h), WAIT, interval=1,
               what="Xen's answer to debug key q")
    cleared = api("host.dmesg_clear", h)
    assert "'q' pressed" in cleared
    assert "'q' pressed" not in host.run("xl dmesg").stdout


def test_data_sources_follow_xen(host, api, h):
    names = {d["name_label"] for d in api("host.get_data_sources", h)}
    assert {"memory_total_kib", "memory_free_kib", "cpu0", "cpu_avg", "loadavg"} <= names
    info = dict((k.strip(), v.strip()) for k, v in
                (line.split(":", 1) for line in host.run("xl info").stdout.splitlines()
                 if ":" in line))
    total_kib = float(api("host.query_data_source", h, "memory_total_kib"))
    assert abs(total_kib - int(info["total_memory"]) * 1024) <= 1024, (total_kib, info)
    assert 0 < float(api("host.query_data_source", h, "memory_free_kib")) <= total_kib
