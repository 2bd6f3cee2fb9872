"""Networking of a Xenia host on real Xen, through the API, with dom0's
own view (ovs-vsctl, ovs-dpctl, ip, xl) as the witness: the PIFs and
networks of an XCP host (eth0's PIF with its MAC, on the bridge xenbr0 of
the kernel datapath with XCP's external_ids, the management PIF with the
address DHCP gave it, SSH and the API still answering through it), a
private network's bridge, a PV guest (the guest kit) on the management
network whose VIF port carries XCP's external_ids and passes traffic
(dom0 pings it through xenbr0), hot unplug and plug of that VIF in the
running guest, a VLAN on the management PIF, and the management PIF made
static with QEMU's gateway 10.0.2.2: dom0's default route, which
host.management_disable keeps (then DHCP again)."""

import json
import uuid as uuidlib

import pytest

from test_vm_xen import console, new_vm, running_domain
from xenhost import wait_until

WAIT = 240  # seconds: a guest under nested emulation on a loaded machine
# QEMU's user network is 10.0.2.0/24, dom0 10.0.2.15; it answers ARP only
# for its own addresses, so the guest may take another.
GUEST_IP = "10.0.2.77"


def ovs(host, args, check=True):
    return host.run("ovs-vsctl --timeout=30 " + args, check=check)


def record_ids(host, table, name):
    """The external_ids of an OVSDB row, as a dict."""
    out = ovs(host, "--format=json --columns=external_ids find %s name=%s" % (table, name)).stdout
    data = json.loads(out)["data"]
    assert len(data) == 1, (table, name, data)
    return dict(data[0][0][1])


def new_network(api, label):
    return api("network.create", {"name_label": "%s-%s" % (label, uuidlib.uuid4().hex[:6]),
                                  "name_description": "", "MTU": "1500", "other_config": {}})


def bridge_exists(host, br):
    return ovs(host, "br-exists %s" % br, check=False).returncode == 0


def pings(host, address, count=1):
    return host.run("busybox ping -c %d -W 2 %s" % (count, address), check=False,
                    timeout=60).returncode == 0


@pytest.fixture(scope="module")
def mgmt(host, api):
    """The management PIF (ref, record) once xapi's first start made it
    and its DHCP lease is known."""
    def find():
        for ref, rec in api("PIF.get_all_records").items():
            if rec["management"]:
                return ref
        return None
    ref = wait_until(find, 120, 2.0, "the management PIF")
    wait_until(lambda: api("PIF.get_IP", ref), 180, 2.0, "the management PIF's DHCP address")
    return ref, api("PIF.get_record", ref)


def test_networkd_runs_and_the_host_is_reachable(host, api):
    assert host.run("systemctl is-active xenia-networkd.service",
                    check=False).stdout.strip() == "active"
    # The kernel datapath: the openvswitch module, one datapath.
    assert "openvswitch" in host.run("lsmod").stdout
    assert "system@ovs-system" in host.run("ovs-dpctl show").stdout
    # No other DHCP client on the NICs (rootfs-setup).
    assert host.run("systemctl is-active systemd-networkd.service",
                    check=False).stdout.strip() != "active"
    assert api("host.get_all")


def test_eth0_is_the_management_pif_on_xenbr0_by_dhcp(host, api, mgmt):
    ref, rec = mgmt
    assert rec["device"] == "eth0" and rec["physical"] is True and rec["VLAN"] == "-1"
    mac = host.run("cat /sys/class/net/eth0/address").stdout.strip()
    assert rec["MAC"].lower() == mac
    assert rec["ip_configuration_mode"] == "DHCP"
    assert rec["IP"] == "10.0.2.15"  # QEMU's user network gives its first client this
    assert rec["currently_attached"] is True
    host_ref = api("host.get_all")[0]
    assert api("host.get_management_interface", host_ref) == ref
    net = api("network.get_record", rec["network"])
    assert net["bridge"] == "xenbr0"
    # eth0 a port of xenbr0; the bridge carries XCP's external_ids.
    assert ovs(host, "port-to-br eth0").stdout.strip() == "xenbr0"
    assert record_ids(host, "Bridge", "xenbr0")["xs-network-uuids"] == net["uuid"]
    assert ovs(host, "get Bridge xenbr0 datapath_type").stdout.strip().strip('"') in ("system", "")
    dp = host.run("ovs-dpctl show").stdout
    assert ": eth0" in dp and ": xenbr0 (internal)" in dp, dp
    # The address on the bridge, none on the NIC, the default route through it.
    assert "inet 10.0.2.15/" in host.run("ip -4 -o addr show dev xenbr0").stdout
    assert host.run("ip -4 -o addr show dev eth0").stdout.strip() == ""
    # The default route is the lease's router's, through the bridge. QEMU's
    # user network with restrict=on offers no router: then there is none,
    # and none left through eth0 either.
    routes = host.run("ip -4 route show default").stdout
    gateway = api("PIF.get_gateway", ref)
    if gateway:
        assert "default via %s dev xenbr0" % gateway in routes, routes
    assert "dev eth0" not in routes, routes


def test_network_create_makes_a_bridge_in_the_kernel_datapath(host, api):
    n = new_network(api, "private")
    br = api("network.get_bridge", n)
    try:
        assert br.startswith("xapi")
        wait_until(lambda: bridge_exists(host, br), 60, 1.0, "bridge %s" % br)
        assert record_ids(host, "Bridge", br)["xs-network-uuids"] == api("network.get_uuid", n)
        assert ": %s (internal)" % br in host.run("ovs-dpctl show").stdout
    finally:
        api("network.destroy", n)
    wait_until(lambda: not bridge_exists(host, br), 60, 1.0, "bridge %s to go" % br)


def test_a_guest_on_the_management_network_talks_and_its_vif_hotplugs(host, api, mgmt):
    # The bridge with dom0's address: xenbr0. (A private network's bridge
    # cannot keep an address made by hand: networkd removes addresses from
    # bridges that xapi gave none.)
    n = mgmt[1]["network"]
    br = "xenbr0"
    vm = new_vm(api)
    api("VM.set_PV_args", vm, "console=hvc0 xenia.mode=stay xenia.ip=%s/24" % GUEST_IP)
    vif = api("VIF.create", {"device": "0", "network": n, "VM": vm, "MAC": "", "MTU": "0",
                             "other_config": {}, "qos_algorithm_type": "",
                             "qos_algorithm_params": {}})
    try:
        api("VM.start", vm, False, False)
        name, domid = running_domain(host, api, vm)
        port = "vif%d.0" % domid
        assert api("VIF.get_currently_attached", vif) is True
        wait_until(lambda: console(host, name).count("XENIA-GUEST-KIT net: eth0") >= 1, WAIT,
                   2.0, "the guest's address")
        assert "cannot set" not in console(host, name)

        # The VIF's port on the bridge, with XCP's external_ids.
        assert ovs(host, "port-to-br %s" % port).stdout.strip() == br
        ids = record_ids(host, "Interface", port)
        assert ids["xs-vm-uuid"] == api("VM.get_uuid", vm)
        assert ids["xs-vif-uuid"] == api("VIF.get_uuid", vif)
        assert ids["xs-network-uuid"] == api("network.get_uuid", n)
        assert ids["attached-mac"].lower() == api("VIF.get_MAC", vif).lower()
        wait_until(lambda: pings(host, GUEST_IP), 120, 2.0, "the guest to answer pings")

        # Hot unplug: the guest's NIC and the port go; the guest runs on.
        api("VIF.unplug", vif)
        assert api("VIF.get_currently_attached", vif) is False
        assert port not in ovs(host, "list-ports %s" % br).stdout.split()
        assert len(host.run("xl network-list %d" % domid).stdout.strip().splitlines()) == 1
        assert not pings(host, GUEST_IP, count=2)
        assert api("VM.get_power_state", vm) == "Running"

        # Hot plug: a new NIC in the guest, the port back, traffic again.
        api("VIF.plug", vif)
        assert api("VIF.get_currently_attached", vif) is True
        assert len(host.run("xl network-list %d" % domid).stdout.strip().splitlines()) == 2
        wait_until(lambda: port in ovs(host, "list-ports %s" % br).stdout.split(), 60, 1.0,
                   "the port back")
        assert record_ids(host, "Interface", port)["xs-vif-uuid"] == api("VIF.get_uuid", vif)
        wait_until(lambda: console(host, name).count("XENIA-GUEST-KIT net: eth0") >= 2, WAIT,
                   2.0, "the guest's address on its new NIC")
        wait_until(lambda: pings(host, GUEST_IP), 120, 2.0, "pings after the plug")
    finally:
        try:
            if api("VM.get_power_state", vm) != "Halted":
                api("VM.hard_shutdown", vm)
        finally:
            api("VIF.destroy", vif)
            api("VM.destroy", vm)


def test_vlan_on_the_management_pif(host, api, mgmt):
    pif, _ = mgmt
    n = new_network(api, "vlan")
    br = api("network.get_bridge", n)
    vlan = api("VLAN.create", pif, 42, n)
    try:
        rec = api("VLAN.get_record", vlan)
        untagged = api("PIF.get_record", rec["untagged_PIF"])
        assert untagged["device"] == "eth0" and untagged["VLAN"] == "42"
        wait_until(lambda: bridge_exists(host, br), 60, 1.0, "the VLAN's bridge")
        # A fake bridge on xenbr0, as XCP makes it (add-br xapiN xenbr0 42).
        assert ovs(host, "br-to-parent %s" % br).stdout.strip() == "xenbr0"
        assert ovs(host, "br-to-vlan %s" % br).stdout.strip() == "42"
        # The management interface is untouched.
        assert "inet 10.0.2.15/" in host.run("ip -4 -o addr show dev xenbr0").stdout
    finally:
        api("VLAN.destroy", vlan)
        api("network.destroy", n)
    wait_until(lambda: not bridge_exists(host, br), 60, 1.0, "the VLAN's bridge to go")
    assert api("PIF.get_management", pif) is True


def default_routes(host):
    """dom0's IPv4 default routes as (gateway, device) pairs."""
    out = host.run("ip -json -4 route show default").stdout
    return [(r.get("gateway"), r.get("dev")) for r in json.loads(out or "[]")]


def test_static_gateway_stays_when_management_is_disabled(host, api, mgmt):
    """QEMU's restricted user network gives no router by DHCP: the
    management PIF made static with the same address and QEMU's gateway
    10.0.2.2 gives dom0 its default route, which host.management_disable
    keeps (as XCP's networkd keeps its gateway interface). DHCP comes back
    at the end, as the other tests found the host."""
    ref, _ = mgmt
    host_ref = api("host.get_all")[0]
    rec = api("PIF.get_record", ref)
    assert rec["ip_configuration_mode"] == "DHCP" and rec["IP"]
    slirp = ("10.0.2.2", "xenbr0")
    try:
        api("PIF.reconfigure_ip", ref, "Static", rec["IP"], rec["netmask"], "10.0.2.2",
            rec["DNS"])
        # The API still answers through the same address.
        assert api("PIF.get_ip_configuration_mode", ref) == "Static"
        assert api("PIF.get_gateway", ref) == "10.0.2.2"
        assert default_routes(host) == [slirp]
        assert "inet %s/" % rec["IP"] in host.run("ip -4 -o addr show dev xenbr0").stdout

        api("host.management_disable")
        assert api("PIF.get_management", ref) is False
        assert default_routes(host) == [slirp]
        # A change of the network that makes xapi send networkd the whole
        # configuration again keeps it too.
        n = new_network(api, "after-disable")
        try:
            wait_until(lambda: bridge_exists(host, api("network.get_bridge", n)), 60, 1.0,
                       "the new bridge")
            assert default_routes(host) == [slirp]
        finally:
            api("network.destroy", n)

        api("host.management_reconfigure", ref)
        assert api("host.get_management_interface", host_ref) == ref
        assert default_routes(host) == [slirp]
    finally:
        if not api("PIF.get_management", ref):
            api("host.management_reconfigure", ref)
        api("PIF.reconfigure_ip", ref, "DHCP", "", "", "", "")
    wait_until(lambda: api("PIF.get_IP", ref) == rec["IP"], 120, 2.0, "the DHCP lease back")
    assert api("PIF.get_ip_configuration_mode", ref) == "DHCP"
    # The lease has no router: the static one is gone with the static mode.
    wait_until(lambda: default_routes(host) == [], 60, 1.0, "the static default route to go")
