"""networkd against a real Open vSwitch (userspace datapath) in network
namespaces: bridges and their OVS records, VIF ports that forward, VLAN
tags on the wire, an active-backup bond losing a leg, static and DHCP
addressing, restarts of networkd and of OVS, kill -9, and bad input on
the socket. Run with XENIA_BUILD pointing at a build with networkd."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from networkdtest import (NetHost, RPCError, ovs_rows, ping, restart_vswitchd, rpc, sh, start_ovs,
                          stop_ovs, vsctl)
from xeniatest import build_dir, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture
def host(request):
    if not (build_dir() / "networkd").exists():
        pytest.skip("no networkd in %s" % build_dir())
    if not shutil.which("ovs-vswitchd"):
        pytest.skip("ovs-vswitchd is not installed")
    try:
        h = NetHost()
    except RuntimeError as e:
        pytest.skip("cannot run a private OVS here: %s" % e)
    failed_before = request.session.testsfailed
    ok = False
    try:
        yield h
        # A failed test does not raise here: count the session's failures.
        ok = request.session.testsfailed == failed_before
    finally:
        h.close()
        reports = h.sanitizer_reports()
        if reports or not ok:
            print("--- networkd.log ---\n" + h.log_tail(60))
        else:
            h.remove()
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def guest(host, label, bridge, vif, mac, addr):
    """A namespace standing in for a VM, plugged into bridge as vif."""
    g = host.netns(label)
    host.call("vif/plug", bridge=bridge, name=vif, mac=mac,
              external_ids={"xs-vm-uuid": "vm-" + label, "xs-vif-uuid": "vif-" + label,
                            "xs-network-uuid": "net-" + bridge},
              stand_in={"type": "veth", "peer": "eth0", "netns": g.name})
    g.run("ip", "addr", "add", addr, "dev", "eth0")
    g.run("ip", "link", "set", "eth0", "up")
    return g


def nic_bridge(host, bridge="xenbr0", nic="eth0", **kw):
    host.call("bridge/set", name=bridge, **kw)
    host.call("port/set", bridge=bridge, name=nic)


def test_nic_list_reports_the_stand_in_nics(host):
    nics = {n["name"]: n for n in host.call("nic/list")}
    assert set(nics) == {"eth0", "eth1"}
    assert nics["eth0"]["mac"] != nics["eth1"]["mac"]
    assert nics["eth0"]["carrier"] is True and nics["eth0"]["mtu"] == 1500


def test_bridge_has_external_ids_and_mtu(host):
    nic_bridge(host, external_ids={"xs-network-uuids": "1f0c-net"}, mtu=9000,
               other_config={"mac-table-size": "4096"})
    br = ovs_rows(host.ns, host.ovs, "Bridge", "name=xenbr0")[0]
    assert br["external_ids"]["xs-network-uuids"] == "1f0c-net"
    assert br["fail_mode"] == "standalone" and br["datapath_type"] == "netdev"
    assert br["other_config"]["mac-table-size"] == "4096"
    iface = ovs_rows(host.ns, host.ovs, "Interface", "name=xenbr0")[0]
    assert iface["mtu_request"] == 9000
    links = {l["name"]: l for l in host.call("state/get")["links"]}
    assert links["xenbr0"]["mtu"] == 9000 and links["xenbr0"]["up"]
    assert links["eth0"]["mtu"] == 9000
    # A change converges to exactly the new desired state.
    host.call("bridge/set", name="xenbr0", external_ids={"xs-network-uuids": "other"})
    br = ovs_rows(host.ns, host.ovs, "Bridge", "name=xenbr0")[0]
    assert br["external_ids"]["xs-network-uuids"] == "other"
    assert "mac-table-size" not in br["other_config"]
    assert ovs_rows(host.ns, host.ovs, "Interface", "name=xenbr0")[0]["mtu_request"] == 1500


def test_port_nics_and_bond_members_lose_their_addresses(host):
    # host-network gives eth0 and eth1 addresses (the management one on
    # eth0); once ports, they belong on the bridge.
    assert any(a.startswith("10.99.0.2/") for a in host.addresses("eth0"))
    sh("ip", "-n", host.ns, "addr", "add", "fd00:98::2/64", "dev", "eth0")
    nic_bridge(host)
    host.call("ip/set", interface="xenbr0",
              ipv4={"mode": "static", "address": "10.99.0.2", "netmask": "24"})
    links = {l["name"]: l for l in host.call("state/get")["links"]}
    assert [a for a in links["eth0"]["addresses"] if not a.startswith("fe80:")] == []
    assert "10.99.0.2/24" in links["xenbr0"]["addresses"]
    assert ping(host.ns, "10.99.0.1"), "the moved address does not work on xenbr0"
    # One added behind networkd's back goes again.
    sh("ip", "-n", host.ns, "addr", "add", "10.99.0.9/24", "dev", "eth0")
    wait_until(lambda: not [a for a in host.addresses("eth0") if a.startswith("10.")], 10,
               what="the address off the port")
    # Bond members too; a NIC that is no port keeps its addresses.
    host.call("bridge/set", name="xenbr1")
    host.call("bond/set", bridge="xenbr1", name="bond1", members=["eth1", "eth0"])
    assert not [a for a in host.addresses("eth1") if not a.startswith("fe80:")]
    host.call("bond/remove", name="bond1")
    sh("ip", "-n", host.ns, "addr", "add", "10.99.1.2/24", "dev", "eth1")
    host.call("reconcile")
    assert "10.99.1.2/24" in host.addresses("eth1")


def test_port_keeps_its_address_until_ovs_takes_it(host):
    # With OVS down the NIC is not a port yet: stripping it would cost the
    # host its management address for nothing.
    stop_ovs(host.ns, host.ovs)
    for method, params in (("bridge/set", {"name": "xenbr0"}),
                           ("port/set", {"bridge": "xenbr0", "name": "eth0"})):
        with pytest.raises(RPCError) as e:
            host.call(method, **params)
        assert e.value.code == "NOT_APPLIED"
    assert "10.99.0.2/24" in host.addresses("eth0")
    start_ovs(host.ns, host.ovs)
    wait_until(lambda: not [a for a in host.addresses("eth0") if a.startswith("10.")], 20,
               what="the address off the port once OVS has it")
    assert ovs_rows(host.ns, host.ovs, "Port", "name=eth0")


def test_vif_port_forwards_traffic(host):
    nic_bridge(host)
    sh("ip", "-n", host.ns, "addr", "flush", "dev", "eth0")
    g = guest(host, "g1", "xenbr0", "vif1.0", "00:16:3e:00:00:01", "10.99.0.50/24")
    iface = ovs_rows(host.ns, host.ovs, "Interface", "name=vif1.0")[0]
    assert iface["external_ids"]["xs-vm-uuid"] == "vm-g1"
    assert iface["external_ids"]["attached-mac"] == "00:16:3e:00:00:01"
    assert ping(g.name, "10.99.0.1"), "the guest cannot reach the outside through xenbr0"
    host.call("vif/unplug", name="vif1.0")
    assert ovs_rows(host.ns, host.ovs, "Interface", "name=vif1.0") == []
    assert "vif1.0" not in [l["name"] for l in host.call("state/get")["links"]]


def flows(host, bridge):
    return sh("ip", "netns", "exec", host.ns, "ovs-ofctl", "dump-flows", "--no-stats",
              "unix:%s/%s.mgmt" % (host.ovs, bridge)).stdout


def test_vif_locking_with_openflow_rules(host):
    nic_bridge(host)
    sh("ip", "-n", host.ns, "addr", "flush", "dev", "eth0")
    mac = "00:16:3e:00:00:07"
    g = guest(host, "gl", "xenbr0", "vif7.0", mac, "10.99.0.57/24")
    assert ping(g.name, "10.99.0.1")
    plug = dict(bridge="xenbr0", name="vif7.0", mac=mac,
                stand_in={"type": "veth", "peer": "eth0", "netns": g.name})
    # Locked to another address: the guest's own is dropped.
    host.call("vif/plug", locking_mode="locked", ipv4_allowed=["10.99.0.58"], **plug)
    table = flows(host, "xenbr0")
    assert "nw_src=10.99.0.58" in table and "actions=drop" in table
    assert not ping(g.name, "10.99.0.1", timeout=2), "a locked VIF sends from another address"
    # Locked to its address: it works, and a spoofed source does not.
    host.call("vif/plug", locking_mode="locked", ipv4_allowed=["10.99.0.57"], **plug)
    assert ping(g.name, "10.99.0.1")
    for addr in ("10.99.0.59/24", "10.99.0.57/24"):
        g.run("ip", "addr", "flush", "dev", "eth0", "scope", "global")
        g.run("ip", "addr", "add", addr, "dev", "eth0")
        if addr.startswith("10.99.0.59/"):
            assert not ping(g.name, "10.99.0.1", timeout=2), "a spoofed source gets through"
    # A converged host leaves the tables alone (a rule added behind
    # networkd's back stays): nothing is installed again without a change.
    sh("ip", "netns", "exec", host.ns, "ovs-ofctl", "add-flow",
       "unix:%s/xenbr0.mgmt" % host.ovs, "priority=1,udp,tp_dst=9,actions=drop")
    host.call("reconcile")
    assert "tp_dst=9" in flows(host, "xenbr0")
    # ovs-vswitchd restarted forgets its rules without OVSDB saying so:
    # networkd sees the bridge's new OpenFlow socket and installs them.
    restart_vswitchd(host.ns, host.ovs)
    wait_until(lambda: "nw_src=10.99.0.57" in flows(host, "xenbr0"), 30,
               what="the locking rules back")
    assert "tp_dst=9" not in flows(host, "xenbr0")
    assert ping(g.name, "10.99.0.1")
    # Disabled: nothing, and the VIF is down as XCP leaves it.
    host.call("vif/plug", locking_mode="disabled", **plug)
    assert not ping(g.name, "10.99.0.1", timeout=2), "a disabled VIF sends"
    links = {l["name"]: l for l in host.call("state/get")["links"]}
    assert not links["vif7.0"]["up"]
    # Unlocked again: the bridge's table is back to the plain switch.
    host.call("vif/plug", locking_mode="unlocked", **plug)
    assert ping(g.name, "10.99.0.1")
    assert "vif7.0" not in flows(host, "xenbr0")


def test_many_locked_bridges_are_installed_together(host):
    """Every bridge's table is installed at once, each on its own OpenFlow
    connection: every bridge gets exactly its VIFs' rules."""
    for i in range(12):
        host.call("bridge/set", name="xapi%d" % i)
    for i in range(12):
        host.call("vif/plug", bridge="xapi%d" % i, name="vif%d.0" % (i + 1),
                  mac="00:16:3e:00:01:%02x" % i, stand_in={"type": "internal"},
                  locking_mode="locked", ipv4_allowed=["10.1.0.%d" % i])
    for i in range(12):
        table = flows(host, "xapi%d" % i)
        assert "nw_src=10.1.0.%d " % i in table
        assert [l for l in table.splitlines() if "nw_src=" in l and
                "nw_src=10.1.0.%d " % i not in l] == []
    # unlocked again: that bridge alone goes back to the plain switch
    host.call("vif/plug", bridge="xapi3", name="vif4.0", mac="00:16:3e:00:01:03",
              stand_in={"type": "internal"}, locking_mode="unlocked")
    assert "vif4.0" not in flows(host, "xapi3")
    assert "nw_src=10.1.0.4 " in flows(host, "xapi4")


def test_state_wait_answers_when_a_carrier_changes(host):
    """state/wait, the long poll xapi follows, answers once a NIC's link
    changes; nic/list then says so."""
    import concurrent.futures
    since = host.call("state/get")["reconciler"]["observed_generation"]
    # nothing changes: the wait ends at its timeout with the same generation
    assert host.call("state/wait", since=since + 1000, timeout=0)["generation"] == since
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(rpc, host.sock, "state/wait", {"since": since, "timeout": 60}, 90)
        sh("ip", "-n", host.out, "link", "set", "peer1", "down")
        try:
            assert fut.result(timeout=90)["generation"] > since
            nics = {n["name"]: n for n in host.call("nic/list")}
            assert nics["eth1"]["carrier"] is False
        finally:
            sh("ip", "-n", host.out, "link", "set", "peer1", "up")
    wait_until(lambda: {n["name"]: n for n in host.call("nic/list")}["eth1"]["carrier"], 20,
               what="eth1's carrier back")
    for bad, param in (({"since": -1}, "since"), ({"since": 0, "timeout": 61}, "timeout"),
                       ({"since": 0, "timeout": -1}, "timeout")):
        with pytest.raises(RPCError) as e:
            host.call("state/wait", **bad)
        assert e.value.code == "INVALID_VALUE" and e.value.params[0] == param
    with pytest.raises(RPCError):
        host.call("state/wait", since="x")


def test_converged_host_sends_ovs_nothing(host):
    """A reconcile of a converged host sends OVSDB no transaction: next_cfg
    stays, so ovs-vswitchd does not reconfigure every port."""
    nic_bridge(host)
    host.call("vif/plug", bridge="xenbr0", name="vif3.0", mac="00:16:3e:00:00:03",
              stand_in={"type": "internal"})
    before = int(vsctl(host.ns, host.ovs, "get", "Open_vSwitch", ".", "next_cfg"))
    host.call("reconcile")
    assert int(vsctl(host.ns, host.ovs, "get", "Open_vSwitch", ".", "next_cfg")) == before
    # a change behind networkd's back is put right at the next convergence
    vsctl(host.ns, host.ovs, "--no-wait", "set", "Interface", "vif3.0",
          "external_ids:attached-mac=x")
    host.call("reconcile")
    assert ovs_rows(host.ns, host.ovs, "Interface", "name=vif3.0")[0]["external_ids"][
        "attached-mac"] == "00:16:3e:00:00:03"
    assert int(vsctl(host.ns, host.ovs, "get", "Open_vSwitch", ".", "next_cfg")) == before + 1


def test_internal_stand_in_makes_an_ovs_internal_port(host):
    nic_bridge(host)
    host.call("vif/plug", bridge="xenbr0", name="vif2.0", mac="00:16:3e:00:00:02",
              stand_in={"type": "internal"}, qos={"kbps": 1000})
    iface = ovs_rows(host.ns, host.ovs, "Interface", "name=vif2.0")[0]
    assert iface["type"] == "internal" and iface["ingress_policing_rate"] == 1000
    links = {l["name"]: l for l in host.call("state/get")["links"]}
    assert links["vif2.0"]["mac"] == "00:16:3e:00:00:02"


def test_vlan_traffic_reaches_only_its_vlan(host):
    # The far side of eth1 is a second OVS: a trunk port, and access
    # ports for VLAN 42 and 43 in namespaces of their own.
    sw = host.netns("sw")
    sh("ip", "-n", host.out, "link", "set", "peer1", "netns", sw.name)
    swdir = host.tmp / "sw-ovs"
    start_ovs(sw.name, swdir)
    try:
        vsctl(sw.name, swdir, "add-br", "br0", "--", "set", "bridge", "br0",
              "datapath_type=netdev")
        vsctl(sw.name, swdir, "add-port", "br0", "peer1")
        sw.run("ip", "link", "set", "peer1", "up")
        far = {}
        for tag, addr in ((42, "10.42.0.2/24"), (43, "10.42.0.3/24")):
            ns = host.netns("v%d" % tag)
            sh("ip", "-n", sw.name, "link", "add", "a%d" % tag, "type", "veth", "peer", "name",
               "eth0", "netns", ns.name)
            vsctl(sw.name, swdir, "add-port", "br0", "a%d" % tag, "tag=%d" % tag)
            sw.run("ip", "link", "set", "a%d" % tag, "up")
            ns.run("ip", "addr", "add", addr, "dev", "eth0")
            ns.run("ip", "link", "set", "eth0", "up")
            far[tag] = ns
        sw.run("ip", "link", "set", "br0", "up")

        nic_bridge(host, "xenbr1", "eth1")
        host.call("vlan/set", bridge="xapi1", parent_bridge="xenbr1", tag=42,
                  external_ids={"xs-network-uuids": "vlan-net"})
        port = ovs_rows(host.ns, host.ovs, "Port", "name=xapi1")[0]
        assert port["tag"] == 42 and port["fake_bridge"] is True
        assert port["external_ids"]["fake-bridge-xs-network-uuids"] == "vlan-net"
        g = guest(host, "g42", "xapi1", "vif3.0", "00:16:3e:00:00:03", "10.42.0.10/24")
        assert ovs_rows(host.ns, host.ovs, "Port", "name=vif3.0")[0]["tag"] == 42
        assert ping(g.name, "10.42.0.2"), "VLAN 42 does not reach its far side"
        assert not ping(g.name, "10.42.0.3", timeout=2), "VLAN 42 leaks into VLAN 43"
    finally:
        stop_ovs(sw.name, swdir)


def test_active_backup_bond_survives_losing_a_leg(host):
    # Outside, both legs end on one Linux bridge holding the gateway.
    sh("ip", "-n", host.out, "link", "add", "lbr", "type", "bridge")
    for p in ("peer0", "peer1"):
        sh("ip", "-n", host.out, "addr", "flush", "dev", p)
        sh("ip", "-n", host.out, "link", "set", p, "master", "lbr")
    sh("ip", "-n", host.out, "addr", "add", "10.99.0.1/24", "dev", "lbr")
    sh("ip", "-n", host.out, "link", "set", "lbr", "up")
    for n in ("eth0", "eth1"):
        sh("ip", "-n", host.ns, "addr", "flush", "dev", n)
    host.call("bridge/set", name="xenbr0")
    host.call("bond/set", bridge="xenbr0", name="bond0", members=["eth0", "eth1"],
              mode="active-backup", properties={"updelay": "0", "downdelay": "0"})
    port = ovs_rows(host.ns, host.ovs, "Port", "name=bond0")[0]
    assert port["bond_mode"] == "active-backup" and port["lacp"] == "off"
    assert len(port["interfaces"]) == 2
    g = guest(host, "gb", "xenbr0", "vif4.0", "00:16:3e:00:00:04", "10.99.0.60/24")
    assert ping(g.name, "10.99.0.1")
    for down, up in (("peer0", "peer1"), ("peer1", "peer0")):
        sh("ip", "-n", host.out, "link", "set", up, "up")
        sh("ip", "-n", host.out, "link", "set", down, "down")
        assert ping(g.name, "10.99.0.1", timeout=15), "no traffic with %s down" % down


def test_bond_errors(host):
    host.call("bridge/set", name="xenbr0")
    with pytest.raises(RPCError) as e:
        host.call("bond/set", bridge="xenbr0", name="bond0", members=["eth0"])
    assert e.value.code == "PIF_BOND_NEEDS_MORE_MEMBERS"
    with pytest.raises(RPCError) as e:
        host.call("bond/set", bridge="xenbr0", name="bond0", members=["eth0", "eth7"])
    assert e.value.code == "NO_SUCH_NIC"
    with pytest.raises(RPCError) as e:
        host.call("bond/set", bridge="xenbr0", name="bond0", members=["eth0", "eth1"],
                  mode="round-robin")
    assert e.value.code == "INVALID_VALUE"
    host.call("bond/set", bridge="xenbr0", name="bond0", members=["eth0", "eth1"], mode="lacp",
              properties={"hashing_algorithm": "tcpudp_ports", "lacp-time": "fast"})
    port = ovs_rows(host.ns, host.ovs, "Port", "name=bond0")[0]
    assert port["lacp"] == "active" and port["bond_mode"] == "balance-tcp"
    assert port["other_config"]["lacp-time"] == "fast"
    with pytest.raises(RPCError) as e:
        host.call("bond/set", bridge="xenbr0", name="bond1", members=["eth0", "eth1"])
    assert e.value.code == "PIF_ALREADY_BONDED"


def test_static_address_and_default_route(host):
    nic_bridge(host)
    sh("ip", "-n", host.ns, "addr", "flush", "dev", "eth0")
    host.call("ip/set", interface="xenbr0", default_gateway=True, dns=["10.99.0.1"],
              ipv4={"mode": "static", "address": "10.99.0.2", "netmask": "255.255.255.0",
                    "gateway": "10.99.0.1"},
              ipv6={"mode": "static", "address": "fd00:99::2/64"})
    st = host.call("state/get")
    links = {l["name"]: l for l in st["links"]}
    assert "10.99.0.2/24" in links["xenbr0"]["addresses"]
    assert "fd00:99::2/64" in links["xenbr0"]["addresses"]
    assert st["default_routes"]["ipv4"] == {"interface": "xenbr0", "gateway": "10.99.0.1"}
    assert "nameserver 10.99.0.1" in (host.tmp / "resolv.conf").read_text()
    assert ping(host.ns, "10.99.0.1")
    # Someone removes the address behind networkd's back: it comes back.
    sh("ip", "-n", host.ns, "addr", "flush", "dev", "xenbr0", "scope", "global")
    wait_until(lambda: "10.99.0.2/24" in (host.addresses("xenbr0") or []), 10,
               what="address back")
    host.call("ip/set", interface="xenbr0", ipv4={"mode": "none"})
    assert not [a for a in host.addresses("xenbr0") if a.startswith("10.")]
    assert host.call("state/get")["default_routes"]["ipv4"] is None
    with pytest.raises(RPCError) as e:
        host.call("ip/set", interface="xenbr0", ipv4={"mode": "static", "address": "10.1.1.1"})
    assert e.value.code == "PIF_CONFIGURATION_ERROR" and e.value.params[0] == "xenbr0"


def test_addresses_without_ip_configuration_are_left_alone(host):
    """As XCP's networkd: the addresses of a bridge xapi gave no IP
    configuration (a private network, a PIF in mode None) are not
    networkd's, and stay across convergences and restarts; those it set
    itself are flushed, once, when the configuration goes to none, even
    after a kill -9 in between."""
    host.call("bridge/set", name="xapi5")
    host.call("bridge/set", name="xapi6")
    sh("ip", "-n", host.ns, "addr", "add", "192.168.77.1/24", "dev", "xapi5")
    sh("ip", "-n", host.ns, "addr", "add", "fd77::1/64", "dev", "xapi5", "nodad")
    host.call("reconcile")
    assert {"192.168.77.1/24", "fd77::1/64"} <= set(host.addresses("xapi5"))
    assert host.stop() == 0
    host.start()
    host.call("reconcile")
    assert {"192.168.77.1/24", "fd77::1/64"} <= set(host.addresses("xapi5"))

    host.call("ip/set", interface="xapi6",
              ipv4={"mode": "static", "address": "192.168.78.1", "netmask": "24"},
              ipv6={"mode": "static", "address": "fd78::1/64"})
    assert {"192.168.78.1/24", "fd78::1/64"} <= set(host.addresses("xapi6"))
    host.stop(signal.SIGKILL)
    host.start()
    host.call("ip/set", interface="xapi6", ipv4={"mode": "none"}, ipv6={"mode": "none"})
    left = [a for a in host.addresses("xapi6") if not a.startswith("fe80:")]
    assert left == [], left
    # from now on xapi6 is not networkd's either
    sh("ip", "-n", host.ns, "addr", "add", "192.168.78.9/24", "dev", "xapi6")
    host.call("reconcile")
    assert "192.168.78.9/24" in host.addresses("xapi6")
    assert "192.168.77.1/24" in host.addresses("xapi5")


def test_dhcp_address_from_dnsmasq(host, tmp_path):
    if not shutil.which("dnsmasq") or not shutil.which("dhclient"):
        pytest.skip("dnsmasq or dhclient missing")
    dns = subprocess.Popen(
        ["ip", "netns", "exec", host.out, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
         "--interface=peer1", "--bind-interfaces", "--port=0", "--no-resolv", "--no-hosts",
         "--user=root", "--dhcp-range=10.99.1.100,10.99.1.150,255.255.255.0,1h",
         "--dhcp-option=3,10.99.1.1", "--dhcp-option=6,10.99.1.1",
         "--dhcp-leasefile=%s" % (tmp_path / "leases"), "--pid-file=%s" % (tmp_path / "pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        nic_bridge(host, "xenbr1", "eth1")
        sh("ip", "-n", host.ns, "addr", "flush", "dev", "eth1")
        host.call("ip/set", interface="xenbr1", ipv4={"mode": "dhcp"}, default_gateway=True)
        addr = wait_until(lambda: [a for a in host.addresses("xenbr1")
                                   if a.startswith("10.99.1.1")], 30, what="a DHCP lease")
        assert addr[0].endswith("/24")
        st = wait_until(lambda: (lambda s: s if s["default_routes"]["ipv4"] else None)(
            host.call("state/get")), 10, what="the default route from the lease")
        assert st["default_routes"]["ipv4"]["gateway"] == "10.99.1.1"
        assert st["dhcp"]["xenbr1"]["pid"]
        leases = host.call("dhcp/list")
        assert leases["xenbr1"]["pid"] == st["dhcp"]["xenbr1"]["pid"]
        lease = leases["xenbr1"]["lease"]
        assert lease["address"] == addr[0].split("/")[0] + "/255.255.255.0"
        assert lease["router"] == "10.99.1.1" and lease["dns"] == ["10.99.1.1"]
        # Back to none: the client stops and the address goes.
        host.call("ip/set", interface="xenbr1", ipv4={"mode": "none"})
        assert host.call("state/get")["dhcp"] == {}
        assert not [a for a in host.addresses("xenbr1") if a.startswith("10.99.1.")]
    finally:
        dns.kill()
        dns.wait(10)


def test_restart_of_networkd_and_ovs_restores_configuration(host):
    nic_bridge(host, external_ids={"xs-network-uuids": "n0"})
    sh("ip", "-n", host.ns, "addr", "flush", "dev", "eth0")
    g = guest(host, "gr", "xenbr0", "vif5.0", "00:16:3e:00:00:05", "10.99.0.70/24")
    host.call("ip/set", interface="xenbr0",
              ipv4={"mode": "static", "address": "10.99.0.2", "netmask": "24"})
    config = host.call("config/get")
    assert host.stop() == 0
    host.start()
    assert host.call("config/get") == config

    # OVS goes away with its database; networkd rebuilds everything.
    stop_ovs(host.ns, host.ovs)
    os.unlink(host.ovs / "conf.db")
    wait_until(lambda: not host.call("state/get")["reconciler"]["ovsdb_connected"], 10,
               what="networkd to notice")
    start_ovs(host.ns, host.ovs)
    wait_until(lambda: ovs_rows(host.ns, host.ovs, "Interface", "name=vif5.0"), 20,
               what="the VIF back in OVS")
    br = ovs_rows(host.ns, host.ovs, "Bridge", "name=xenbr0")[0]
    assert br["external_ids"]["xs-network-uuids"] == "n0"
    wait_until(lambda: "10.99.0.2/24" in (host.addresses("xenbr0") or []), 10,
               what="address back")
    assert ping(g.name, "10.99.0.1")


def test_kill_9_mid_change_and_restart(host):
    nic_bridge(host)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(host.sock))
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"bridge/set","params":{"name":"xapi7"}}\n')
    host.proc.send_signal(signal.SIGKILL)
    host.proc.wait(10)
    s.close()
    host.stop()
    host.start()
    config = host.call("config/get")
    assert "xenbr0" in config["bridges"]
    # Whatever the file says is what OVS gets.
    want = set(config["bridges"])
    wait_until(lambda: {b["name"] for b in ovs_rows(host.ns, host.ovs, "Bridge")} == want, 10,
               what="OVS to match the configuration")


def test_garbage_and_disconnects_on_the_socket(host):
    for junk in (b"\x00\xff garbage\n", b"{\"jsonrpc\": \n", b"[1,2,3]\n", b"{}\n",
                 b'{"jsonrpc":"2.0","id":1,"method":"bridge/set","params":{"name":5}}\n'):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(host.sock))
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        try:
            s.recv(65536)
        except OSError:
            pass
        s.close()
    # A client that leaves in the middle of a change.
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(host.sock))
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"bridge/set","params":{"name":"xenbr3"}}\n')
    s.close()
    with pytest.raises(RPCError) as e:
        host.call("bridge/set", name="bad/name")
    assert e.value.code == "INVALID_NAME"
    with pytest.raises(RPCError) as e:
        host.call("bridge/set", name="xenbr0", mtu=10)
    assert e.value.code == "MTU_INVALID"
    with pytest.raises(RPCError) as e:
        host.call("vlan/set", bridge="xapi1", parent_bridge="xenbr3", tag=5000)
    assert e.value.code == "VLAN_TAG_INVALID" and e.value.params == ["5000"]
    with pytest.raises(RPCError) as e:
        host.call("vif/plug", bridge="xenbr3", name="vif1.0", mac="zz")
    assert e.value.code == "MAC_INVALID"
    with pytest.raises(RPCError) as e:
        host.call("port/set", bridge="nosuch", name="eth0")
    assert e.value.code == "NO_SUCH_BRIDGE"
    host.call("vif/plug", bridge="xenbr3", name="vif1.0", mac="00:16:3e:00:00:09",
              stand_in={"type": "internal"})
    with pytest.raises(RPCError) as e:
        host.call("bridge/remove", name="xenbr3")
    assert e.value.code == "NETWORK_CONTAINS_VIF"
    assert host.proc.poll() is None
    assert "xenbr3" in host.call("config/get")["bridges"]
