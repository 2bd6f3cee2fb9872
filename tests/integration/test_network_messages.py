"""The network messages beyond the basics, through the API on a real host
(scripts/run-host: its own namespace, Open vSwitch and networkd):
tunnel.create/destroy (the access PIF, the gre or vxlan port networkd puts
on the tunnel's bridge from other_config, tunnel.status), PIF.set_property
(gro, applied to the NIC with the ethtool ioctl), PIF.db_introduce and
db_forget, host.management_disable and local_management_reconfigure,
VIF.configure_ipv4/ipv6 and their refusals; and networkd alone on two
development hosts, carrying traffic through a gre or vxlan tunnel over the
userspace datapath. Skipped, saying why, where OVS cannot run."""

import os
import shutil
import signal

import pytest

from networkdtest import NetHost, ping, sh
from test_network_api import close_host, pifs_by_device, start_host, vif_record, wait_synced
from xeniatest import vm_record, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture(scope="module")
def nhost(request):
    h, info = start_host(request)
    with h.session() as s:
        wait_synced(s)
    yield h, info
    close_host(h, request)


@pytest.fixture
def s(nhost):
    with nhost[0].session() as session:
        yield session


@pytest.fixture
def net(nhost):
    return nhost[1]


def new_network(s, label):
    return s("network.create", {"name_label": label, "name_description": "", "MTU": "1500",
                                "other_config": {}})


def iface(net, name):
    rows = net.rows("Interface", "name=%s" % name)
    return rows[0] if rows else None


def bridge_ports(net, bridge):
    br = net.rows("Bridge", "name=%s" % bridge)
    if not br:
        return None
    ports = {p["_uuid"]: p["name"] for p in net.rows("Port")}
    refs = br[0]["ports"] if isinstance(br[0]["ports"], list) else [br[0]["ports"]]
    return sorted(ports[u] for u in refs if u in ports)


def gro(net, nic):
    out = sh("ip", "netns", "exec", net.ns, "ethtool", "-k", nic).stdout
    line = next(l for l in out.splitlines() if l.startswith("generic-receive-offload:"))
    return line.split(":")[1].split()[0]


# ---- tunnels ----------------------------------------------------------------


def test_tunnel_refusals(s):
    eth0, _ = pifs_by_device(s)["eth0"]
    eth1, _ = pifs_by_device(s)["eth1"]
    n = new_network(s, "tunnel refusals")
    try:
        assert s.error("tunnel.create", "OpaqueRef:nope", n, "gre") == \
            ["HANDLE_INVALID", "PIF", "OpaqueRef:nope"]
        # eth1 has no address: no tunnel can run over it.
        assert s("PIF.get_ip_configuration_mode", eth1) == "None"
        assert s.error("tunnel.create", eth1, n, "gre") == ["TRANSPORT_PIF_NOT_CONFIGURED", eth1]
        assert s("tunnel.get_all") == []
        # An unknown enum is an INTERNAL_ERROR in XCP (test_wire.py).
        assert s.error("tunnel.create", eth0, n, "ipip")[0] == "INTERNAL_ERROR"
        # A network that already has a PIF of this host.
        mine = s("PIF.get_network", eth0)
        assert s.error("tunnel.create", eth0, mine, "gre") == \
            ["NETWORK_ALREADY_CONNECTED", mine, eth0]
        t = s("tunnel.create", eth0, n, "gre")
        try:
            access = s("tunnel.get_access_PIF", t)
            n2 = new_network(s, "over the tunnel")
            try:
                assert s.error("tunnel.create", access, n2, "gre") == \
                    ["IS_TUNNEL_ACCESS_PIF", access]
            finally:
                s("network.destroy", n2)
            assert s.error("PIF.forget", eth0)[0] in ("PIF_IS_MANAGEMENT_INTERFACE",
                                                       "PIF_TUNNEL_STILL_EXISTS")
            assert s.error("PIF.forget", access) == ["PIF_TUNNEL_STILL_EXISTS", access]
        finally:
            s("tunnel.destroy", t)
    finally:
        s("network.destroy", n)


def test_tunnel_gre_port_follows_other_config(s, net):
    eth0, _ = pifs_by_device(s)["eth0"]
    n = new_network(s, "gre tunnel")
    bridge = s("network.get_bridge", n)
    t = s("tunnel.create", eth0, n, "gre")
    try:
        rec = s("tunnel.get_record", t)
        access = rec["access_PIF"]
        assert rec["transport_PIF"] == eth0
        assert rec["protocol"] == "gre"
        pif = s("PIF.get_record", access)
        assert pif["device"] == "tunnel0" and pif["physical"] is False
        assert pif["network"] == n and pif["currently_attached"] is True
        assert pif["tunnel_access_PIF_of"] == [t]
        assert s("PIF.get_tunnel_transport_PIF_of", eth0) == [t]
        # No other end yet: the bridge, with the access PIF's MAC, no port.
        assert bridge_ports(net, bridge) == [bridge]
        br = net.rows("Bridge", "name=%s" % bridge)[0]
        assert br["other_config"].get("hwaddr") == pif["MAC"]
        assert rec["status"] == {"active": "false"}
        # The other end named: a gre port towards it, with the key.
        s("tunnel.set_other_config", t, {"remote_ip": "192.0.2.7", "key": "42"})
        wait_until(lambda: iface(net, "tunnel0") is not None, 30, what="the gre port")
        i = iface(net, "tunnel0")
        assert i["type"] == "gre"
        assert i["options"] == {"remote_ip": "192.0.2.7", "key": "42"}
        assert bridge_ports(net, bridge) == sorted([bridge, "tunnel0"])
        wait_until(lambda: s("tunnel.get_status", t) == {"active": "true", "key": "42"}, 30,
                   what="the tunnel active")
        # A value networkd would refuse leaves the tunnel inactive, and the
        # rest of the host's network as it was.
        s("tunnel.set_other_config", t, {"remote_ip": "not-an-address"})
        wait_until(lambda: iface(net, "tunnel0") is None, 30, what="the gre port removed")
        wait_until(lambda: s("tunnel.get_status", t) == {"active": "false"}, 30,
                   what="the tunnel inactive")
        assert "eth0" in bridge_ports(net, s("network.get_bridge", s("PIF.get_network", eth0)))
    finally:
        s("tunnel.destroy", t)
    assert s("tunnel.get_all") == []
    assert s.error("PIF.get_record", access)[0] == "HANDLE_INVALID"
    # The transport's metrics, which the access PIF shared, stay.
    assert s("PIF_metrics.get_record", s("PIF.get_metrics", eth0))
    wait_until(lambda: bridge_ports(net, bridge) in (None, [bridge]), 30,
               what="the bridge without its tunnel")
    s("network.destroy", n)


def test_tunnel_with_a_running_vif_stays(s, net):
    eth0, _ = pifs_by_device(s)["eth0"]
    n = new_network(s, "tunnel with a guest")
    t = s("tunnel.create", eth0, n, "gre")
    vm = s("VM.create", vm_record(name_label="on the tunnel"))
    try:
        vif = s("VIF.create", vif_record(vm, n))
        s("VM.start", vm, False, False)
        port = "vif%s.0" % s("VM.get_domid", vm)
        wait_until(lambda: port in (bridge_ports(net, s("network.get_bridge", n)) or []), 30,
                   what="the VIF's port on the tunnel's bridge")
        assert s.error("tunnel.destroy", t) == ["VIF_IN_USE", n, vif]
        assert s("tunnel.get_access_PIF", t)
        s("VM.hard_shutdown", vm)
        s("tunnel.destroy", t)
        t = None
    finally:
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        for v in s("VM.get_VIFs", vm):
            s("VIF.destroy", v)
        s("VM.destroy", vm)
        if t:
            s("tunnel.destroy", t)
        s("network.destroy", n)


def test_tunnel_plug_and_unplug_follow_the_transport(s, net):
    eth1, _ = pifs_by_device(s)["eth1"]
    was_attached = s("PIF.get_currently_attached", eth1)
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", "255.255.255.0", "", "")
    n = new_network(s, "tunnel over eth1")
    t = None
    try:
        t = s("tunnel.create", eth1, n, "gre")
        access = s("tunnel.get_access_PIF", t)
        s("tunnel.set_other_config", t, {"remote_ip": "10.99.1.1"})
        wait_until(lambda: iface(net, "tunnel0") is not None, 30, what="the gre port")
        # Unplugging the transport takes the tunnel down with it.
        s("PIF.unplug", eth1)
        assert s("PIF.get_currently_attached", access) is False
        wait_until(lambda: iface(net, "tunnel0") is None, 30, what="the gre port removed")
        wait_until(lambda: s("tunnel.get_status", t) == {"active": "false"}, 30,
                   what="the tunnel inactive")
        # Plugging the access PIF plugs its transport again.
        s("PIF.plug", access)
        assert s("PIF.get_currently_attached", eth1) is True
        wait_until(lambda: iface(net, "tunnel0") is not None, 30, what="the gre port back")
        # A transport without an address cannot carry it.
        s("PIF.unplug", access)
        s("PIF.reconfigure_ip", eth1, "None", "", "", "", "")
        assert s.error("PIF.plug", access) == ["TRANSPORT_PIF_NOT_CONFIGURED", eth1]
        assert s("PIF.get_currently_attached", access) is False
    finally:
        if t:
            s("tunnel.destroy", t)
        s("network.destroy", n)
        s("PIF.reconfigure_ip", eth1, "None", "", "", "", "")
        if not was_attached:
            s("PIF.unplug", eth1)


def test_tunnel_vxlan_port_and_numbering(s, net):
    eth0, _ = pifs_by_device(s)["eth0"]
    n1, n2 = new_network(s, "vxlan 1"), new_network(s, "vxlan 2")
    t1 = s("tunnel.create", eth0, n1, "vxlan")
    t2 = None
    try:
        t2 = s("tunnel.create", eth0, n2, "vxlan")
        a1, a2 = s("tunnel.get_access_PIF", t1), s("tunnel.get_access_PIF", t2)
        assert (s("PIF.get_device", a1), s("PIF.get_device", a2)) == ("tunnel0", "tunnel1")
        s("tunnel.set_other_config", t2,
          {"remote_ip": "fd00:99::7", "key": "5000", "dst_port": "8472"})
        wait_until(lambda: iface(net, "tunnel1") is not None, 30, what="the vxlan port")
        i = iface(net, "tunnel1")
        assert i["type"] == "vxlan"
        assert i["options"] == {"remote_ip": "fd00:99::7", "key": "5000", "dst_port": "8472"}
        assert iface(net, "tunnel0") is None
        # A VXLAN network identifier has 24 bits.
        s("tunnel.set_other_config", t2, {"remote_ip": "192.0.2.8", "key": "16777216"})
        wait_until(lambda: iface(net, "tunnel1") is None, 30, what="the vxlan port removed")
    finally:
        for t in (t1, t2):
            if t:
                s("tunnel.destroy", t)
        s("network.destroy", n1)
        s("network.destroy", n2)


# ---- PIF properties and records ----------------------------------------------


def test_pif_set_property_gro(s, net):
    if not shutil.which("ethtool"):
        pytest.skip("ethtool is not installed")
    eth1, rec = pifs_by_device(s)["eth1"]
    assert s.error("PIF.set_property", eth1, "gso", "on") == \
        ["INVALID_VALUE", "properties", "gso = on"]
    assert s.error("PIF.set_property", eth1, "gro", "maybe") == \
        ["INVALID_VALUE", "properties", "gro = maybe"]
    s("PIF.set_property", eth1, "gro", "on")
    assert s("PIF.get_properties", eth1)["gro"] == "on"
    wait_until(lambda: gro(net, "eth1") == "on", 30, what="GRO on")
    s("PIF.set_property", eth1, "gro", "off")
    assert s("PIF.get_properties", eth1) == {"gro": "off"}
    wait_until(lambda: gro(net, "eth1") == "off", 30, what="GRO off")
    # Someone turns it back on: networkd's kernel pass puts it right.
    sh("ip", "netns", "exec", net.ns, "ethtool", "-K", "eth1", "gro", "on")
    wait_until(lambda: gro(net, "eth1") == "off", 30, what="GRO off again")
    # A VLAN's PIF has no properties of its own.
    n = new_network(s, "vlan for properties")
    try:
        vlan = s("VLAN.create", eth1, "7", n)
        untagged = s("VLAN.get_untagged_PIF", vlan)
        assert s.error("PIF.set_property", untagged, "gro", "off") == \
            ["CANNOT_CHANGE_PIF_PROPERTIES", untagged]
        s("VLAN.destroy", vlan)
    finally:
        s("network.destroy", n)


def test_pif_db_introduce_and_db_forget(s):
    host = s("host.get_all")[0]
    n = new_network(s, "db records")
    try:
        assert s.error("PIF.db_introduce", "eth7", "OpaqueRef:nonet", host, "02:00:00:00:07:07",
                       "1500", "-1", True, "None", "", "", "", "", "OpaqueRef:NULL",
                       "OpaqueRef:NULL", False, {}, False, "None", [], "", "IPv4", True,
                       {}) == ["HANDLE_INVALID", "network", "OpaqueRef:nonet"]
        pif = s("PIF.db_introduce", "eth7", n, host, "02:00:00:00:07:07", "1500", "-1", True,
                "Static", "192.0.2.5", "255.255.255.0", "", "", "OpaqueRef:NULL",
                "OpaqueRef:NULL", False, {"k": "v"}, False, "None", [], "", "IPv4", True,
                {"gro": "on"})
        rec = s("PIF.get_record", pif)
        assert (rec["device"], rec["network"], rec["MAC"], rec["MTU"]) == \
            ("eth7", n, "02:00:00:00:07:07", "1500")
        assert rec["IP"] == "192.0.2.5" and rec["other_config"] == {"k": "v"}
        assert rec["properties"] == {"gro": "on"}
        # Only the record: not plugged, whatever the NIC.
        assert rec["currently_attached"] is False
        metrics = rec["metrics"]
        assert s("PIF_metrics.get_record", metrics)
        s("PIF.db_forget", pif)
        assert s.error("PIF.get_record", pif)[0] == "HANDLE_INVALID"
        assert s.error("PIF_metrics.get_record", metrics)[0] == "HANDLE_INVALID"
        assert s.error("PIF.db_forget", pif)[0] == "HANDLE_INVALID"
    finally:
        s("network.destroy", n)


# ---- the host's management interface ----------------------------------------


def test_management_disable_and_local_reconfigure(s, net):
    host = s("host.get_all")[0]
    eth0, _ = pifs_by_device(s)["eth0"]
    assert s("PIF.get_management", eth0) is True
    assert s.error("host.local_management_reconfigure", "eth0") == ["NOT_IN_EMERGENCY_MODE"]
    s("host.management_disable")
    try:
        assert [r for r in s("PIF.get_all_records").values() if r["management"]] == []
        assert s.error("host.get_management_interface", host)[0] == "INTERNAL_ERROR"
        # The API still answers (the session works) and the addresses stay.
        br = s("network.get_bridge", s("PIF.get_network", eth0))
        assert net.addresses(br)
    finally:
        s("host.management_reconfigure", eth0)
    assert s("PIF.get_management", eth0) is True


# ---- VIF addresses -------------------------------------------------------------


def test_vif_configure_refusals(s):
    eth0, rec = pifs_by_device(s)["eth0"]
    vm = s("VM.create", vm_record(name_label="vif addresses"))
    try:
        vif = s("VIF.create", vif_record(vm, rec["network"]))
        for msg, good, bad in (("VIF.configure_ipv4", "10.0.0.5/24", "10.0.0.5"),
                               ("VIF.configure_ipv6", "fd00::5/64", "fd00::5/129")):
            assert s.error(msg, vif, "Static", bad, "") == \
                ["INVALID_CIDR_ADDRESS_SPECIFIED", "address"]
            assert s.error(msg, vif, "Static", good, "10.0.0.300") == \
                ["INVALID_IP_ADDRESS_SPECIFIED", "gateway"]
            # No guest agent announces feature-static-ip-setting.
            assert s.error(msg, vif, "Static", good, "") == ["VM_LACKS_FEATURE", vm]
            assert s.error(msg, vif, "None", "", "") == ["VM_LACKS_FEATURE", vm]
        # A locked VIF may only be given one of its allowed addresses.
        s("VIF.set_locking_mode", vif, "locked")
        s("VIF.set_ipv4_allowed", vif, ["10.0.0.6"])
        assert s.error("VIF.configure_ipv4", vif, "Static", "10.0.0.5/24", "") == \
            ["ADDRESS_VIOLATES_LOCKING_CONSTRAINT", "10.0.0.5/24"]
        assert s.error("VIF.configure_ipv4", vif, "Static", "10.0.0.6/24", "") == \
            ["VM_LACKS_FEATURE", vm]
        assert s("VIF.get_ipv4_configuration_mode", vif) == "None"
        assert s("VIF.get_ipv4_addresses", vif) == []
    finally:
        for v in s("VM.get_VIFs", vm):
            s("VIF.destroy", v)
        s("VM.destroy", vm)


# ---- traffic through a tunnel, networkd alone -------------------------------


@pytest.mark.parametrize("protocol", ["gre", "vxlan"])
def test_tunnel_carries_traffic_between_two_hosts(protocol):
    """Two development hosts (each its namespace, OVS with the userspace
    datapath, networkd) joined by a veth as their underlay: each puts its
    underlay address on a bridge with the veth as its port, and a tunnel
    port towards the other on a second bridge; the second bridges' own
    addresses reach each other through the tunnel only."""
    if not shutil.which("ovs-vswitchd"):
        pytest.skip("ovs-vswitchd is not installed")
    hosts = []
    try:
        for _ in range(2):
            hosts.append(NetHost(nics=1))
        a, b = hosts
        sh("ip", "link", "add", "under0", "netns", a.ns, "type", "veth", "peer", "under1",
           "netns", b.ns)
        for h, nic, under, over, remote in ((a, "under0", "10.201.0.1", "192.168.51.1",
                                             "10.201.0.2"),
                                            (b, "under1", "10.201.0.2", "192.168.51.2",
                                             "10.201.0.1")):
            # The userspace datapath passes frames on unfinished (README,
            # "Development hosts: checksums").
            sh("ip", "netns", "exec", h.ns, "ethtool", "-K", nic, "tx", "off", check=False)
            h.call("bridge/set", name="xenbr9")
            h.call("port/set", bridge="xenbr9", name=nic)
            h.call("ip/set", interface="xenbr9",
                   ipv4={"mode": "static", "address": under, "netmask": "24"})
            h.call("bridge/set", name="xapi9")
            h.call("tunnel/set", name="tunnel0", bridge="xapi9", protocol=protocol,
                   remote_ip=remote, key="77")
            h.call("ip/set", interface="xapi9",
                   ipv4={"mode": "static", "address": over, "netmask": "24"})
        assert ping(a.ns, "10.201.0.2")
        assert ping(a.ns, "192.168.51.2"), "no answer through the %s tunnel" % protocol
        # The tunnel is persisted like the rest: back after a kill -9.
        a.stop(signal.SIGKILL)
        a.start()
        a.call("reconcile")
        assert a.call("config/get")["tunnels"]["tunnel0"] == {
            "bridge": "xapi9", "protocol": protocol, "remote_ip": "10.201.0.2", "key": "77"}
        assert ping(a.ns, "192.168.51.2")
        # Without the tunnel port the overlay is cut off.
        b.call("tunnel/remove", name="tunnel0")
        assert not ping(a.ns, "192.168.51.2", timeout=3)
        for h in hosts:
            assert h.sanitizer_reports() == []
    finally:
        for h in hosts:
            h.close()
            h.remove()
