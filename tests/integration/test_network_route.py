"""Which interface holds dom0's default route and gives resolv.conf, through
the API on a real host (scripts/run-host: its own namespace, Open vSwitch
and networkd), chosen as XCP's determine_gateway_and_dns_ifs chooses them:
a PIF with other_config:defaultroute=true (peerdns=true for DNS), else the
management PIF; host.management_disable keeps both where they were; a DHCP
lease's router becomes the default route only on the gateway interface.
The routes are read from the kernel (ip -json route in the host's
namespace). Skipped, saying why, where OVS cannot run."""

import json
import os
import shutil

import pytest

from networkdtest import sh
from test_network_api import _dnsmasq, pifs_by_device
# One host per test module, already synchronised with networkd.
from test_network_messages import net, nhost, s  # noqa: F401
from xeniatest import XenAPIError, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

MASK = "255.255.255.0"


@pytest.fixture
def pifs(s, nhost):
    """eth0 (the management PIF) static with gateway 10.99.0.1 and DNS
    10.99.0.1, eth1 plugged; the first start's state again afterwards."""
    by_dev = pifs_by_device(s)
    eth0, rec0 = by_dev["eth0"]
    eth1, _ = by_dev["eth1"]
    if not s("PIF.get_currently_attached", eth1):
        s("PIF.plug", eth1)
    s("PIF.reconfigure_ip", eth0, "Static", rec0["IP"], rec0["netmask"], "10.99.0.1",
      "10.99.0.1")
    yield eth0, eth1
    errors = []
    for call in (lambda: s("PIF.get_management", eth0) or s("host.management_reconfigure", eth0),
                 lambda: s("PIF.remove_from_other_config", eth1, "defaultroute"),
                 lambda: s("PIF.remove_from_other_config", eth1, "peerdns"),
                 lambda: s("PIF.reconfigure_ip", eth1, "None", "", "", "", ""),
                 lambda: s("PIF.reconfigure_ip", eth0, "Static", rec0["IP"], rec0["netmask"],
                           "", "")):
        try:
            call()
        except XenAPIError as e:
            errors.append(e)
    assert not errors, errors


def routes(net):
    """The namespace's IPv4 default routes as {(gateway, device)}."""
    out = sh("ip", "-n", net.ns, "-json", "-4", "route", "show", "default").stdout
    return {(r.get("gateway"), r.get("dev")) for r in json.loads(out or "[]")}


def nameservers(nhost):
    path = nhost[0].state_dir / "net" / "resolv.conf"
    if not path.exists():
        return []
    return [l.split()[1] for l in path.read_text().splitlines() if l.startswith("nameserver ")]


def wait_routes(net, want, what):
    wait_until(lambda: routes(net) == want, 30, what=what)


def test_management_disable_keeps_the_default_route_and_dns(s, net, nhost, pifs):
    eth0, eth1 = pifs
    host = s("host.get_all")[0]
    assert routes(net) == {("10.99.0.1", "xenbr0")}
    assert nameservers(nhost) == ["10.99.0.1"]
    # A second interface with an address but no gateway does not change it.
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", MASK, "", "10.99.1.53")
    s("host.management_disable")
    assert [r for r in s("PIF.get_all_records").values() if r["management"]] == []
    assert routes(net) == {("10.99.0.1", "xenbr0")}
    ips = net.call("config/get")["ips"]
    assert ips["xenbr0"]["default_gateway"] is True and ips["xenbr1"]["default_gateway"] is False
    assert ips["xenbr0"]["dns_interface"] is True
    # Another change of the network (xapi sends networkd the whole
    # configuration again) keeps them.
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.3", MASK, "", "10.99.1.53")
    assert "10.99.1.3/24" in net.addresses("xenbr1")
    assert routes(net) == {("10.99.0.1", "xenbr0")}
    assert nameservers(nhost) == ["10.99.0.1"]
    s("host.management_reconfigure", eth0)
    assert s("host.get_management_interface", host) == eth0
    assert routes(net) == {("10.99.0.1", "xenbr0")}
    # The same with eth1 as the management PIF: disabling it keeps the
    # route where it is, though eth0 (before it by name) has a gateway too.
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", MASK, "10.99.1.1", "10.99.1.53")
    s("host.management_reconfigure", eth1)
    assert routes(net) == {("10.99.1.1", "xenbr1")}
    assert nameservers(nhost) == ["10.99.1.53"]
    s("host.management_disable")
    assert routes(net) == {("10.99.1.1", "xenbr1")}
    s("PIF.reconfigure_ip", eth0, "Static", "10.99.0.2", MASK, "10.99.0.1", "10.99.0.9")
    assert routes(net) == {("10.99.1.1", "xenbr1")}
    assert nameservers(nhost) == ["10.99.1.53"]
    s("host.management_reconfigure", eth0)
    assert routes(net) == {("10.99.0.1", "xenbr0")}


def test_defaultroute_and_peerdns_choose_another_pif(s, net, nhost, pifs):
    eth0, eth1 = pifs
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", MASK, "10.99.1.1", "10.99.1.53")
    # The management PIF holds them while no PIF says otherwise: eth1's
    # gateway is not used, and its DNS is not in resolv.conf.
    assert routes(net) == {("10.99.0.1", "xenbr0")}
    assert nameservers(nhost) == ["10.99.0.1"]
    s("PIF.add_to_other_config", eth1, "defaultroute", "true")
    wait_routes(net, {("10.99.1.1", "xenbr1")}, "the default route through xenbr1")
    # DNS follows peerdns, not defaultroute.
    assert nameservers(nhost) == ["10.99.0.1"]
    s("PIF.add_to_other_config", eth1, "peerdns", "true")
    wait_until(lambda: nameservers(nhost) == ["10.99.1.53"], 30, what="eth1's DNS alone")
    # Disabling management changes nothing of it.
    s("host.management_disable")
    assert routes(net) == {("10.99.1.1", "xenbr1")}
    s("host.management_reconfigure", eth0)
    # A value other than "true" does not count: back to the management PIF.
    s("PIF.remove_from_other_config", eth1, "defaultroute")
    s("PIF.add_to_other_config", eth1, "defaultroute", "yes")
    s("PIF.remove_from_other_config", eth1, "peerdns")
    wait_routes(net, {("10.99.0.1", "xenbr0")}, "the default route back through xenbr0")
    wait_until(lambda: nameservers(nhost) == ["10.99.0.1"], 30, what="eth0's DNS again")


def test_dhcp_router_is_the_default_route_only_on_the_gateway_interface(s, net, pifs,
                                                                        tmp_path):
    if not shutil.which("dnsmasq") or not shutil.which("dhclient"):
        pytest.skip("dnsmasq or dhclient missing")
    eth0, eth1 = pifs
    dns = _dnsmasq(net, tmp_path, "10.99.1.1")
    try:
        s("PIF.reconfigure_ip", eth1, "DHCP", "", "", "", "")
        wait_until(lambda: s("PIF.get_gateway", eth1) == "10.99.1.1", 60,
                   what="the lease's router in PIF.gateway")
        assert s("PIF.get_IP", eth1).startswith("10.99.1.1")
        # The lease has a router, but eth1 is not the gateway interface.
        assert routes(net) == {("10.99.0.1", "xenbr0")}
        s("PIF.add_to_other_config", eth1, "defaultroute", "true")
        wait_routes(net, {("10.99.1.1", "xenbr1")}, "the lease's router as the default route")
        s("PIF.remove_from_other_config", eth1, "defaultroute")
        wait_routes(net, {("10.99.0.1", "xenbr0")}, "the default route back through xenbr0")
    finally:
        dns.kill()
        dns.wait(10)
