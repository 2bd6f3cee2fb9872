"""xapi's networking through the API on real hosts (scripts/run-host): each
host has a network namespace with a private Open vSwitch and stand-in NICs
(scripts/host-network) and networkd inside it. First-start PIFs, networks
and management interface; network.create; VIFs of running VMs that
forward traffic (internal stand-in ports); VLANs; bonds; addresses; the
management interface moved; every refusal; a restart and a kill -9 of the
host with the configuration restored; two hosts side by side. Skipped,
saying why, where OVS cannot run."""

import os
import shutil
import subprocess
import time

import pytest

from networkdtest import HOST_NETWORK, ovs_rows, ping, rpc, sh
from xeniatest import Host, XenAPIError, build_dir, vm_record, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

CONVERGE = 30  # seconds networkd may take to converge after a restart


def _requirements():
    for binary in ("networkd", "xapi", "domaind", "storaged"):
        if not (build_dir() / binary).exists():
            pytest.skip("no %s in %s" % (binary, build_dir()))
    if not shutil.which("ovs-vswitchd"):
        pytest.skip("ovs-vswitchd is not installed")


class NetHostInfo:
    """What run-host printed about the host's network."""

    def __init__(self, host):
        line = next((l for l in host.output if l.startswith("NETNS=")), None)
        if line is None:
            warn = next((l for l in host.output if "no host network" in l), "no NETNS line")
            raise RuntimeError(warn)
        kv = dict(part.split("=", 1) for part in line.split())
        self.ns = kv["NETNS"]
        self.out = kv["OUTSIDE_NETNS"]
        self.ovs = kv["OVS_RUNDIR"]
        self.sock = host.state_dir / "networkd.sock"

    def call(self, method, **params):
        return rpc(self.sock, method, params)

    def rows(self, table, *conds):
        return ovs_rows(self.ns, self.ovs, table, *conds)

    def addresses(self, link):
        """The link's addresses but IPv6 link-local ones."""
        for l in self.call("state/get")["links"]:
            if l["name"] == link:
                return [a for a in l["addresses"] if not a.startswith("fe80:")]
        return None


def start_host(request):
    """A started host with its network, or a skip when OVS cannot run."""
    _requirements()
    h = Host()
    try:
        h.start()
        info = NetHostInfo(h)
    except RuntimeError as e:
        close_host(h, request)
        pytest.skip("cannot run a host network here: %s" % e)
    except BaseException:
        close_host(h, request)
        raise
    return h, info


def close_host(h, request=None):
    """Stops the host; its namespaces go with it (run-host's watchdog
    removes them even after a kill -9)."""
    try:
        h.close()
    finally:
        ns = next((l.split()[0].split("=", 1)[1] for l in h.output if l.startswith("NETNS=")),
                  None)
        gone = True
        if ns:
            try:
                wait_until(lambda: ns not in sh("ip", "netns", "list").stdout, 20,
                           what="the host's namespace to go")
            except AssertionError:
                gone = False
                sh(HOST_NETWORK, "stop", h.state_dir / "net", ns[len("xenia-"):], check=False,
                   timeout=60)
        reports = h.sanitizer_reports()
        if reports:
            print("--- xapi.log ---\n" + h.log_tail(60))
        h.remove_state()
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)
        assert gone, "the host's namespace %s outlived it" % ns


@pytest.fixture(scope="module")
def nhost(request):
    h, info = start_host(request)
    yield h, info
    close_host(h, request)


@pytest.fixture
def s(nhost):
    with nhost[0].session() as session:
        yield session


@pytest.fixture
def net(nhost):
    return nhost[1]


def pifs_by_device(s):
    return {r["device"]: (ref, r) for ref, r in s("PIF.get_all_records").items()
            if r["VLAN"] == "-1" and r["physical"]}


def wait_synced(s):
    """xapi's start thread has recorded the NICs."""
    wait_until(lambda: len(pifs_by_device(s)) == 2, 20, what="the first start's PIFs")


def new_vm(s, label):
    return s("VM.create", vm_record(name_label=label))


def drop_vm(s, vm):
    try:
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        for vif in s("VM.get_VIFs", vm):
            s("VIF.destroy", vif)
        s("VM.destroy", vm)
    except XenAPIError:
        pass


def vif_record(vm, network, device="0", mac="", **over):
    rec = {"device": device, "network": network, "VM": vm, "MAC": mac, "MTU": "0",
           "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}
    rec.update(over)
    return rec


def port_names(net, bridge):
    br = net.rows("Bridge", "name=%s" % bridge)
    if not br:
        return None
    ports = {p["_uuid"]: p["name"] for p in net.rows("Port")}
    return sorted(ports[u] for u in (br[0]["ports"] if isinstance(br[0]["ports"], list)
                                     else [br[0]["ports"]]) if u in ports)


# ---------------------------------------------------------------------------


def test_first_start_makes_pifs_networks_and_the_management_interface(s, net):
    wait_synced(s)
    pifs = pifs_by_device(s)
    assert set(pifs) == {"eth0", "eth1"}
    mref, m = pifs["eth0"]
    assert m["management"] is True and m["ip_configuration_mode"] == "Static"
    assert m["IP"] == "10.99.0.2" and m["netmask"] == "255.255.255.0"
    assert m["currently_attached"] is True and m["physical"] is True
    assert pifs["eth1"][1]["management"] is False
    assert pifs["eth1"][1]["ip_configuration_mode"] == "None"
    host = s("host.get_all")[0]
    assert s("host.get_management_interface", host) == mref
    for dev, bridge in (("eth0", "xenbr0"), ("eth1", "xenbr1")):
        ref, r = pifs[dev]
        n = s("network.get_record", r["network"])
        assert n["bridge"] == bridge and ref in n["PIFs"]
        metrics = s("PIF_metrics.get_record", r["metrics"])
        assert metrics["carrier"] is True and metrics["duplex"] in (True, False)
        # The MAC is the NIC's
        assert r["MAC"] == next(x["mac"] for x in net.call("nic/list") if x["name"] == dev)
        br = net.rows("Bridge", "name=%s" % bridge)[0]
        assert br["external_ids"]["xs-network-uuids"] == n["uuid"]
        assert dev in port_names(net, bridge)
    # The management address is on the bridge now, and answers outside.
    assert "10.99.0.2/24" in net.addresses("xenbr0")
    assert ping(net.out, "10.99.0.2")


def test_network_create_allocates_a_bridge_and_destroy_removes_it(s, net):
    a = s("network.create", {"name_label": "private a", "name_description": "", "MTU": "1500",
                             "other_config": {}})
    b = s("network.create", {"name_label": "private b", "name_description": "", "MTU": "9000",
                             "other_config": {}})
    try:
        ba, bb = s("network.get_bridge", a), s("network.get_bridge", b)
        assert ba.startswith("xapi") and bb.startswith("xapi") and ba != bb
        wait_until(lambda: net.rows("Bridge", "name=%s" % bb), 10, what="the bridge in OVS")
        assert net.rows("Interface", "name=%s" % bb)[0]["mtu_request"] == 9000
        assert s("network.get_uuid", b) == net.rows("Bridge", "name=%s" % bb)[0][
            "external_ids"]["xs-network-uuids"]
        # A generic setter reaches OVS too.
        s("network.set_MTU", b, "1400")
        wait_until(lambda: net.rows("Interface", "name=%s" % bb)[0]["mtu_request"] == 1400, 10,
                   what="the new MTU in OVS")
        # purposes
        s("network.add_purpose", a, "nbd")
        assert s.error("network.add_purpose", a, "insecure_nbd")[0] == \
            "NETWORK_INCOMPATIBLE_PURPOSES"
        s("network.remove_purpose", a, "nbd")
        assert s("network.get_purpose", a) == []
        # reserved names (xapi's, the kernel's), a NIC's, bad ones: refused,
        # nothing left behind
        before = s("network.get_all")
        for name in ("eth1", "xapi9", "xenbr7", "vif1.0"):
            assert s.error("network.create", {"name_label": "x", "name_description": "",
                                              "MTU": "1500", "other_config": {},
                                              "bridge": name}) == \
                ["INVALID_VALUE", "bridge", name]
        assert sorted(s("network.get_all")) == sorted(before)
        assert "eth1" in port_names(net, "xenbr1")
        # a name of the client's own
        own = s("network.create", {"name_label": "own", "name_description": "", "MTU": "1500",
                                   "other_config": {}, "bridge": "br-own"})
        assert net.rows("Bridge", "name=br-own")
        s("network.destroy", own)
        assert net.rows("Bridge", "name=br-own") == []
        assert s.error("network.create", {"name_label": "x", "name_description": "",
                                          "MTU": "1500", "other_config": {},
                                          "bridge": "bad/name"}) == \
            ["INVALID_VALUE", "bridge", "bad/name"]
        # a bad MTU is refused before anything changes
        assert s.error("network.create", {"name_label": "x", "name_description": "",
                                          "MTU": "70000", "other_config": {}})[0] == \
            "INVALID_VALUE"
    finally:
        s("network.destroy", a)
        s("network.destroy", b)
    assert net.rows("Bridge", "name=%s" % bb) == []
    assert net.rows("Bridge", "name=%s" % ba) == []


def test_vif_of_a_running_vm_forwards_traffic(s, net):
    wait_synced(s)
    pifs = pifs_by_device(s)
    network = pifs["eth1"][1]["network"]
    vm = new_vm(s, "vif-traffic")
    try:
        vif = s("VIF.create", vif_record(vm, network))
        rec = s("VIF.get_record", vif)
        assert rec["MAC_autogenerated"] is True and len(rec["MAC"]) == 17
        assert int(rec["MAC"][:2], 16) & 3 == 2  # locally administered, unicast
        assert rec["currently_attached"] is False
        s("VM.start", vm, False, False)
        domid = s("VM.get_domid", vm)
        name = "vif%s.0" % domid
        assert s("VIF.get_currently_attached", vif) is True
        iface = net.rows("Interface", "name=%s" % name)[0]
        assert iface["external_ids"]["xs-vif-uuid"] == rec["uuid"]
        assert iface["external_ids"]["xs-vm-uuid"] == s("VM.get_uuid", vm)
        assert iface["external_ids"]["attached-mac"] == rec["MAC"]
        assert name in port_names(net, "xenbr1")
        # The stand-in port carries the guest's traffic through xenbr1 and
        # eth1 to the outside (a subnet of its own, so nothing else routes it).
        sh("ip", "-n", net.ns, "addr", "add", "10.98.1.50/24", "dev", name)
        sh("ip", "-n", net.out, "addr", "add", "10.98.1.1/24", "dev", "peer1")
        try:
            assert ping(net.out, "10.98.1.50"), "no answer through the VIF's port"
        finally:
            sh("ip", "-n", net.out, "addr", "del", "10.98.1.1/24", "dev", "peer1", check=False)
        # Hot unplug and plug.
        s("VIF.unplug", vif)
        assert net.rows("Interface", "name=%s" % name) == []
        assert s.error("VIF.unplug", vif) == ["DEVICE_ALREADY_DETACHED", vif]
        s("VIF.plug", vif)
        assert net.rows("Interface", "name=%s" % name)
        assert s.error("VIF.plug", vif) == ["DEVICE_ALREADY_ATTACHED", vif]
        # Moved to the other network: the port follows.
        s("VIF.move", vif, pifs["eth0"][1]["network"])
        assert name in port_names(net, "xenbr0") and name not in port_names(net, "xenbr1")
        # Locked: networkd puts OpenFlow rules for the VIF's port on its bridge.
        s("VIF.set_locking_mode", vif, "locked")
        assert s("VIF.get_locking_mode", vif) == "locked"
        assert "actions=drop" in sh("ip", "netns", "exec", net.ns, "ovs-ofctl", "dump-flows",
                                    "unix:%s/xenbr0.mgmt" % net.ovs).stdout
        s("VIF.set_locking_mode", vif, "unlocked")
        s("VIF.add_ipv4_allowed", vif, "10.98.1.50")
        assert s("VIF.get_ipv4_allowed", vif) == ["10.98.1.50"]
        assert s.error("VIF.add_ipv4_allowed", vif, "not-an-ip")[0] == \
            "INVALID_IP_ADDRESS_SPECIFIED"
        assert s.error("VIF.destroy", vif)[0] == "OPERATION_NOT_ALLOWED"
        # QoS through the generic setters reaches the port.
        s("VIF.set_qos_algorithm_type", vif, "ratelimit")
        s("VIF.set_qos_algorithm_params", vif, {"kbps": "1000"})
        wait_until(lambda: net.rows("Interface", "name=%s" % name)[0]["ingress_policing_rate"]
                   == 1000, 10, what="the VIF's rate limit")
        # A reboot gives the domain a new domid: the port is renamed.
        s("VM.hard_reboot", vm)
        new_name = "vif%s.0" % s("VM.get_domid", vm)
        assert new_name != name
        assert net.rows("Interface", "name=%s" % new_name)
        assert net.rows("Interface", "name=%s" % name) == []
        name = new_name
        # Suspended, the VM has no port; resumed, it has one again.
        s("VM.suspend", vm)
        assert s("VIF.get_currently_attached", vif) is False
        assert net.rows("Interface", "name=%s" % name) == []
        s("VM.resume", vm, False, False)
        name = "vif%s.0" % s("VM.get_domid", vm)
        assert s("VIF.get_currently_attached", vif) is True
        assert name in port_names(net, "xenbr0")
        # The domain's end removes the port.
        s("VM.hard_shutdown", vm)
        assert s("VIF.get_currently_attached", vif) is False
        assert net.rows("Interface", "name=%s" % name) == []
        assert s.error("VIF.plug", vif) == ["VM_BAD_POWER_STATE", vm, "running", "Halted"]
    finally:
        drop_vm(s, vm)


def test_vif_create_refusals(s, net):
    wait_synced(s)
    network = pifs_by_device(s)["eth1"][1]["network"]
    vm = new_vm(s, "vif-refusals")
    try:
        v = s("VIF.create", vif_record(vm, network, device="1", mac="00:16:3E:AA:BB:01"))
        rec = s("VIF.get_record", v)
        assert rec["MAC"] == "00:16:3e:aa:bb:01" and rec["MAC_autogenerated"] is False
        assert rec["MTU"] == "1500"
        assert s.error("VIF.create", vif_record(vm, network, device="1")) == \
            ["DEVICE_ALREADY_EXISTS", "1"]
        assert s.error("VIF.create", vif_record(vm, network, device="2", mac="01:00:00:00:00:01")) \
            == ["MAC_INVALID", "01:00:00:00:00:01"]
        assert s.error("VIF.create", vif_record(vm, network, device="2", mac="zz")) == \
            ["MAC_INVALID", "zz"]
        assert s.error("VIF.create", vif_record(vm, network, device="x"))[0] == "INVALID_DEVICE"
        assert s.error("VIF.create", vif_record(vm, "OpaqueRef:NULL", device="3"))[0] == \
            "HANDLE_INVALID"
        # A network in use is not destroyed.
        assert s.error("network.destroy", network)[0] == "NETWORK_CONTAINS_VIF"
    finally:
        drop_vm(s, vm)


def test_vlan_create_and_destroy(s, net):
    wait_synced(s)
    pif = pifs_by_device(s)["eth1"][0]
    n = s("network.create", {"name_label": "vlan 42", "name_description": "", "MTU": "1500",
                             "other_config": {}})
    br = s("network.get_bridge", n)
    vlan = None
    try:
        assert s.error("VLAN.create", pif, 4095, n) == ["VLAN_TAG_INVALID", "4095"]
        assert s.error("VLAN.create", pif, -1, n) == ["VLAN_TAG_INVALID", "-1"]
        vlan = s("VLAN.create", pif, 42, n)
        rec = s("VLAN.get_record", vlan)
        untagged = s("PIF.get_record", rec["untagged_PIF"])
        assert rec["tagged_PIF"] == pif and rec["tag"] == "42"
        assert untagged["VLAN"] == "42" and untagged["network"] == n
        assert untagged["physical"] is False and untagged["device"] == "eth1"
        port = net.rows("Port", "name=%s" % br)[0]
        assert port["tag"] == 42 and port["fake_bridge"] is True
        assert br in port_names(net, "xenbr1")
        assert net.rows("Bridge", "name=%s" % br) == []
        other = s("network.create", {"name_label": "other", "name_description": "",
                                     "MTU": "1500", "other_config": {}})
        try:
            assert s.error("VLAN.create", pif, 42, other) == ["PIF_VLAN_EXISTS", "eth1"]
        finally:
            s("network.destroy", other)
        assert s.error("VLAN.create", pif, 43, n)[0] == "NETWORK_ALREADY_CONNECTED"
        assert s.error("PIF.forget", pif) == ["PIF_VLAN_STILL_EXISTS", pif]
        assert s.error("VLAN.create", rec["untagged_PIF"], 5, n)[0] in ("PIF_IS_VLAN",
                                                                      "NETWORK_ALREADY_CONNECTED")
        assert s.error("network.destroy", n)[0] == "NETWORK_CONTAINS_PIF"
        s("VLAN.destroy", vlan)
        vlan = None
        # the network is a bridge of its own again, no longer a fake bridge
        assert br not in port_names(net, "xenbr1") and net.rows("Bridge", "name=%s" % br)
        assert s.error("PIF.get_record", rec["untagged_PIF"])[0] == "HANDLE_INVALID"
        # Async form: a task whose result is the VLAN.
        task = s("Async.VLAN.create", pif, 7, n)
        wait_until(lambda: s("task.get_status", task) != "pending", 30, what="the task")
        assert s("task.get_status", task) == "success", s("task.get_error_info", task)
        vlan = s("task.get_result", task).replace("<value>", "").replace("</value>", "")
        assert net.rows("Port", "name=%s" % br)[0]["tag"] == 7
        # PIF.destroy of the VLAN's PIF (deprecated) destroys the VLAN.
        s("PIF.destroy", s("VLAN.get_untagged_PIF", vlan))
        assert s.error("VLAN.get_record", vlan)[0] == "HANDLE_INVALID"
        vlan = None
        assert br not in port_names(net, "xenbr1")
    finally:
        if vlan:
            s("VLAN.destroy", vlan)
        s("network.destroy", n)


def test_pool_create_vlan_on_every_host(s, net):
    """pool.create_VLAN and pool.create_VLAN_from_PIF: a VLAN on each host
    of the pool (one host here) with its untagged PIF in the answer."""
    wait_synced(s)
    pif = pifs_by_device(s)["eth1"][0]
    mk = lambda label: s("network.create", {"name_label": label, "name_description": "",
                                            "MTU": "1500", "other_config": {}})
    n, n2 = mk("pool vlan 42"), mk("pool vlan 43")
    made = []
    try:
        assert s.error("pool.create_VLAN", "eth1", n, 4095) == ["VLAN_TAG_INVALID", "4095"]
        assert s.error("pool.create_VLAN", "nosuch", n, 42) == ["INVALID_VALUE", "device",
                                                                "nosuch"]
        assert s.error("pool.create_VLAN_from_PIF", pif, n, -1) == ["VLAN_TAG_INVALID", "-1"]
        assert s.error("pool.create_VLAN_from_PIF", "OpaqueRef:nosuch", n, 42)[0] == \
            "HANDLE_INVALID"
        pifs = s("pool.create_VLAN", "eth1", n, 42)
        made += pifs
        assert len(pifs) == 1
        rec = s("PIF.get_record", pifs[0])
        assert rec["VLAN"] == "42" and rec["network"] == n and rec["device"] == "eth1"
        vlan = s("VLAN.get_record", rec["VLAN_master_of"])
        assert vlan["tagged_PIF"] == pif and vlan["tag"] == "42"
        br = s("network.get_bridge", n)
        assert net.rows("Port", "name=%s" % br)[0]["tag"] == 42
        # the same tag again, the same network again: refused, nothing made
        assert s.error("pool.create_VLAN", "eth1", n2, 42) == ["PIF_VLAN_EXISTS", "eth1"]
        assert s.error("pool.create_VLAN_from_PIF", pif, n, 44)[0] == \
            "NETWORK_ALREADY_CONNECTED"
        assert s("network.get_PIFs", n2) == []
        pifs2 = s("pool.create_VLAN_from_PIF", pif, n2, 43)
        made += pifs2
        assert [s("PIF.get_VLAN", p) for p in pifs2] == ["43"]
        assert net.rows("Port", "name=%s" % s("network.get_bridge", n2))[0]["tag"] == 43
    finally:
        for p in made:
            try:
                s("VLAN.destroy", s("PIF.get_VLAN_master_of", p))
            except XenAPIError:
                pass
        s("network.destroy", n)
        s("network.destroy", n2)


def test_bond_create_set_mode_and_destroy(s, net):
    wait_synced(s)
    pifs = pifs_by_device(s)
    eth0, eth1 = pifs["eth0"][0], pifs["eth1"][0]
    n = s("network.create", {"name_label": "bond", "name_description": "", "MTU": "1500",
                             "other_config": {}})
    br = s("network.get_bridge", n)
    bond = None
    # A VLAN on a member and a running VM's VIF on a member's network: they
    # move onto the bond, as on XCP.
    vn = s("network.create", {"name_label": "vlan on member", "name_description": "",
                              "MTU": "1500", "other_config": {}})
    vbr = s("network.get_bridge", vn)
    vlan = s("VLAN.create", eth1, 5, vn)
    vm, vif, vport = _vm_with_vif(s, pifs["eth1"][1]["network"], "bond-vif")
    try:
        assert s.error("Bond.create", n, [eth1], "", "active-backup", {}) == \
            ["PIF_BOND_NEEDS_MORE_MEMBERS"]
        assert s.error("Bond.create", n, [eth0, eth1], "bad", "active-backup", {}) == \
            ["MAC_INVALID", "bad"]
        bond = s("Bond.create", n, [eth0, eth1], "", "active-backup", {})
        rec = s("Bond.get_record", bond)
        master = s("PIF.get_record", rec["master"])
        assert sorted(rec["slaves"]) == sorted([eth0, eth1])
        assert rec["mode"] == "active-backup" and rec["primary_slave"] == eth0
        # The management interface moved onto the bond, with its address.
        assert master["management"] is True and master["IP"] == "10.99.0.2"
        assert master["device"].startswith("bond") and master["MAC"] == pifs["eth0"][1]["MAC"]
        assert s("PIF.get_management", eth0) is False
        assert s("PIF.get_bond_slave_of", eth0) == bond
        host = s("host.get_all")[0]
        assert s("host.get_management_interface", host) == rec["master"]
        port = net.rows("Port", "name=%s" % master["device"])[0]
        assert port["bond_mode"] == "active-backup"
        assert master["device"] in port_names(net, br)
        assert "eth0" not in port_names(net, "xenbr0")
        assert "10.99.0.2/24" in net.addresses(br)
        assert s("VLAN.get_tagged_PIF", vlan) == rec["master"]
        assert s("PIF.get_device", s("VLAN.get_untagged_PIF", vlan)) == master["device"]
        assert vbr in port_names(net, br) and net.rows("Port", "name=%s" % vbr)[0]["tag"] == 5
        assert s("VIF.get_network", vif) == n and vport in port_names(net, br)
        assert s.error("Bond.create", n, [eth0, eth1], "", "balance-slb", {})[0] == \
            "PIF_ALREADY_BONDED"
        assert s.error("PIF.plug", eth1) == ["CANNOT_PLUG_BOND_SLAVE", eth1]
        s("Bond.set_mode", bond, "balance-slb")
        assert net.rows("Port", "name=%s" % master["device"])[0]["bond_mode"] == "balance-slb"
        s("Bond.set_property", bond, "hashing_algorithm", "src_mac")
        assert s("Bond.get_properties", bond) == {"hashing_algorithm": "src_mac"}
        assert s.error("Bond.set_property", bond, "hashing_algorithm", "bogus")[0] == \
            "INVALID_VALUE"
        # A value networkd refuses leaves the database as it was.
        e = s.error("Bond.set_property", bond, "updelay", "soon")
        assert e[0] == "INVALID_VALUE", e
        assert s("Bond.get_properties", bond) == {"hashing_algorithm": "src_mac"}
        s("Bond.destroy", bond)
        bond = None
        # back on the primary member (eth0, the management one)
        assert s("VLAN.get_tagged_PIF", vlan) == eth0
        assert vbr in port_names(net, "xenbr0")
        assert s("VIF.get_network", vif) == pifs["eth0"][1]["network"]
        assert vport in port_names(net, "xenbr0")
    finally:
        if bond:
            s("Bond.destroy", bond)
        drop_vm(s, vm)
        s("VLAN.destroy", vlan)
        s("network.destroy", vn)
        s("network.destroy", n)
    # Everything back on the NICs.
    pifs = pifs_by_device(s)
    assert pifs["eth0"][1]["management"] is True and pifs["eth0"][1]["IP"] == "10.99.0.2"
    assert pifs["eth0"][1]["bond_slave_of"] == "OpaqueRef:NULL"
    assert "eth0" in port_names(net, "xenbr0") and "eth1" in port_names(net, "xenbr1")
    assert "10.99.0.2/24" in net.addresses("xenbr0")
    assert ping(net.out, "10.99.0.2")


def test_reconfigure_ip_and_the_management_interface(s, net, nhost):
    wait_synced(s)
    pifs = pifs_by_device(s)
    eth0, eth1 = pifs["eth0"][0], pifs["eth1"][0]
    host = s("host.get_all")[0]
    # Refusals first.
    assert s.error("PIF.reconfigure_ip", eth1, "Static", "10.99.1.300", "255.255.255.0", "",
                   "") == ["INVALID_IP_ADDRESS_SPECIFIED", "IP"]
    assert s.error("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", "255.0.255.0", "", "") == \
        ["INVALID_IP_ADDRESS_SPECIFIED", "netmask"]
    assert s.error("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", "255.255.255.0", "", "x") \
        == ["INVALID_IP_ADDRESS_SPECIFIED", "DNS"]
    assert s.error("PIF.reconfigure_ip", eth0, "None", "", "", "", "") == \
        ["PIF_IS_MANAGEMENT_INTERFACE", eth0]
    assert s.error("PIF.unplug", eth0) == ["PIF_IS_MANAGEMENT_INTERFACE", eth0]
    assert s.error("PIF.forget", eth0) == ["PIF_IS_MANAGEMENT_INTERFACE", eth0]
    assert s.error("PIF.destroy", eth0) == ["PIF_IS_PHYSICAL", eth0]
    assert s.error("host.management_reconfigure", eth1) == \
        ["PIF_HAS_NO_NETWORK_CONFIGURATION", eth1]
    # Static address on xenbr1.
    s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.2", "255.255.255.0", "", "10.99.1.1")
    rec = s("PIF.get_record", eth1)
    assert (rec["ip_configuration_mode"], rec["IP"], rec["netmask"], rec["DNS"]) == \
        ("Static", "10.99.1.2", "255.255.255.0", "10.99.1.1")
    assert net.addresses("xenbr1") == ["10.99.1.2/24"]
    assert ping(net.out, "10.99.1.2")
    # The management interface moves to it; the API (127.0.0.1, outside
    # the namespace) keeps answering.
    s("host.management_reconfigure", eth1)
    assert s("host.get_management_interface", host) == eth1
    assert s("PIF.get_management", eth0) is False
    ips = net.call("config/get")["ips"]
    assert ips["xenbr1"]["default_gateway"] is True and ips["xenbr0"]["default_gateway"] is False
    with nhost[0].session() as s2:
        assert s2("host.get_all") == [host]
    # The pool's form, by network.
    s("pool.management_reconfigure", pifs["eth0"][1]["network"])
    assert s("host.get_management_interface", host) == eth0
    lone = s("network.create", {"name_label": "no PIF", "name_description": "", "MTU": "1500",
                                "other_config": {}})
    try:
        assert s.error("pool.management_reconfigure", lone) == ["PIF_NOT_PRESENT", host, lone]
    finally:
        s("network.destroy", lone)
    s("PIF.reconfigure_ip", eth1, "None", "", "", "", "")
    assert net.addresses("xenbr1") == []
    # IPv6 and the primary address type.
    s("PIF.reconfigure_ipv6", eth1, "Static", "fd00:99:1::2/64", "", "")
    assert "fd00:99:1::2/64" in net.addresses("xenbr1")
    assert s.error("PIF.reconfigure_ipv6", eth1, "Static", "fd00::zz/64", "", "") == \
        ["INVALID_IP_ADDRESS_SPECIFIED", "IPv6"]
    s("PIF.set_primary_address_type", eth1, "IPv6")
    assert s("PIF.get_primary_address_type", eth1) == "IPv6"
    s("PIF.reconfigure_ipv6", eth1, "None", "", "", "")
    s("PIF.set_primary_address_type", eth1, "IPv4")
    assert s("PIF.get_IPv6", eth1) == []


def test_pif_forget_scan_introduce_plug_unplug(s, net):
    wait_synced(s)
    eth1, rec = pifs_by_device(s)["eth1"]
    network = rec["network"]
    host = s("host.get_all")[0]
    s("PIF.unplug", eth1)
    assert s("PIF.get_currently_attached", eth1) is False
    assert "eth1" not in port_names(net, "xenbr1")
    s("PIF.plug", eth1)
    assert "eth1" in port_names(net, "xenbr1")
    assert s.error("PIF.introduce", host, rec["MAC"], "eth1")[0] == "DUPLICATE_PIF_DEVICE_NAME"
    assert s.error("PIF.introduce", host, rec["MAC"], "eth9") == ["PIF_DEVICE_NOT_FOUND"]
    s("PIF.forget", eth1)
    assert "eth1" not in pifs_by_device(s)
    assert s.error("PIF.introduce", host, "02:00:00:00:00:09", "eth1") == \
        ["MAC_DOES_NOT_EXIST", "02:00:00:00:00:09"]
    s("PIF.scan", host)
    eth1b, recb = pifs_by_device(s)["eth1"]
    assert eth1b != eth1 and recb["network"] == network and recb["MAC"] == rec["MAC"]
    assert recb["currently_attached"] is False
    s("PIF.plug", eth1b)
    assert "eth1" in port_names(net, "xenbr1")
    s("PIF.forget", eth1b)
    new = s("PIF.introduce", host, rec["MAC"], "eth1")
    assert s("PIF.get_network", new) == network
    s("PIF.plug", new)
    assert "eth1" in port_names(net, "xenbr1")


def test_pif_metrics_follow_the_carrier(s, net):
    wait_synced(s)
    eth1, rec = pifs_by_device(s)["eth1"]

    def carrier():
        return s("PIF_metrics.get_carrier", rec["metrics"])

    assert carrier() is True
    sh("ip", "-n", net.out, "link", "set", "peer1", "down")
    try:
        wait_until(lambda: carrier() is False, 20, what="PIF_metrics.carrier false")
    finally:
        sh("ip", "-n", net.out, "link", "set", "peer1", "up")
    wait_until(carrier, 20, what="PIF_metrics.carrier true again")


def _dnsmasq(net, tmp_path, dns_server):
    return subprocess.Popen(
        ["ip", "netns", "exec", net.out, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
         "--interface=peer1", "--bind-interfaces", "--port=0", "--no-resolv", "--no-hosts",
         "--user=root", "--dhcp-range=10.99.1.100,10.99.1.150,255.255.255.0,1h",
         "--dhcp-option=3,10.99.1.1", "--dhcp-option=6,%s" % dns_server,
         "--dhcp-leasefile=%s" % (tmp_path / "leases"), "--pid-file=%s" % (tmp_path / "pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_dhcp_lease_shows_in_the_pif(s, net, tmp_path):
    """A DHCP PIF shows its lease's address, netmask, gateway and DNS, and
    follows the lease when it changes (a new DHCP server's DNS)."""
    if not shutil.which("dnsmasq") or not shutil.which("dhclient"):
        pytest.skip("dnsmasq or dhclient missing")
    wait_synced(s)
    pif, rec = pifs_by_device(s)["eth1"]
    if not rec["currently_attached"]:
        s("PIF.plug", pif)
    dns = _dnsmasq(net, tmp_path, "10.99.1.1")
    try:
        s("PIF.reconfigure_ip", pif, "DHCP", "", "", "", "")
        got = wait_until(lambda: (lambda r: r if r["IP"].startswith("10.99.1.1") else None)(
            s("PIF.get_record", pif)), 60, what="the lease in PIF.IP")
        assert got["netmask"] == "255.255.255.0"
        assert got["gateway"] == "10.99.1.1"
        assert got["DNS"] == "10.99.1.1"
        assert got["ip_configuration_mode"] == "DHCP"
        # Another server gives the same address with another DNS server;
        # the host's dhclient is killed and networkd starts a new one.
        dns.kill()
        dns.wait(10)
        dns = _dnsmasq(net, tmp_path, "10.99.1.53")
        pid = net.call("dhcp/list")["xenbr1"]["pid"]
        os.kill(pid, 9)
        wait_until(lambda: s("PIF.get_DNS", pif) == "10.99.1.53", 60,
                   what="the new lease's DNS in PIF.DNS")
        assert s("PIF.get_IP", pif).startswith("10.99.1.1")
        # No longer DHCP: no lease to show.
        s("PIF.reconfigure_ip", pif, "None", "", "", "", "")
        assert s("PIF.get_IP", pif) == ""
        assert net.call("dhcp/list") == {}
    finally:
        dns.kill()
        dns.wait(10)
        try:
            s("PIF.reconfigure_ip", pif, "None", "", "", "", "")
        except XenAPIError:
            pass


# ---------------------------------------------------------------------------
# Hosts of their own


def _vm_with_vif(s, network, label):
    vm = s("VM.create", vm_record(name_label=label))
    vif = s("VIF.create", vif_record(vm, network))
    s("VM.start", vm, False, False)
    return vm, vif, "vif%s.0" % s("VM.get_domid", vm)


def test_restart_and_kill9_restore_the_configuration(request):
    h, net = start_host(request)
    try:
        with h.session() as s:
            wait_synced(s)
            pifs = pifs_by_device(s)
            n = s("network.create", {"name_label": "v", "name_description": "", "MTU": "1500",
                                     "other_config": {}})
            br = s("network.get_bridge", n)
            s("VLAN.create", pifs["eth1"][0], 9, n)
            s("PIF.reconfigure_ip", pifs["eth1"][0], "Static", "10.99.1.2", "255.255.255.0",
              "", "")
            vm, vif, port = _vm_with_vif(s, pifs["eth1"][1]["network"], "restart")

        def restored():
            try:
                p = net.rows("Port", "name=%s" % br)
                return (p and p[0]["tag"] == 9 and net.rows("Interface", "name=%s" % port)
                        and "eth0" in (port_names(net, "xenbr0") or [])
                        and "10.99.0.2/24" in (net.addresses("xenbr0") or [])
                        and net.addresses("xenbr1") == ["10.99.1.2/24"])
            except (OSError, subprocess.SubprocessError, ValueError, KeyError):
                return False

        assert restored()
        for how in ("restart", "kill9"):
            if how == "kill9":
                h.kill9()
            h.restart()
            net = NetHostInfo(h)
            with h.session() as s:
                assert s("VM.get_power_state", vm) == "Running"
                assert s("VIF.get_currently_attached", vif) is True
                wait_until(restored, CONVERGE, what="the network after a %s" % how)
                assert ping(net.out, "10.99.0.2") and ping(net.out, "10.99.1.2")
                assert len(pifs_by_device(s)) == 2  # not discovered twice
        with h.session() as s:
            s("VM.hard_shutdown", vm)
            assert net.rows("Interface", "name=%s" % port) == []
    finally:
        close_host(h, request)


def test_two_hosts_side_by_side(request):
    a, na = start_host(request)
    try:
        b, nb = start_host(request)
        try:
            assert na.ns != nb.ns
            with a.session() as sa, b.session() as sb:
                wait_synced(sa)
                wait_synced(sb)
                assert pifs_by_device(sa)["eth0"][1]["IP"] == "10.99.0.2"
                assert pifs_by_device(sb)["eth0"][1]["IP"] == "10.99.0.2"
                n = sa("network.create", {"name_label": "only a", "name_description": "",
                                          "MTU": "1500", "other_config": {}})
                br = sa("network.get_bridge", n)
                assert na.rows("Bridge", "name=%s" % br)
                assert nb.rows("Bridge", "name=%s" % br) == []
                assert ping(na.out, "10.99.0.2") and ping(nb.out, "10.99.0.2")
        finally:
            close_host(b, request)
        # b's namespaces are gone, a's still work
        assert na.ns in sh("ip", "netns", "list").stdout
        assert nb.ns not in sh("ip", "netns", "list").stdout
        assert ping(na.out, "10.99.0.2")
    finally:
        close_host(a, request)


def test_a_host_without_networkd(request):
    """XENIA_NETWORK=0: no namespace, no networkd. VMs with VIFs still start
    (without ports); what needs networkd says so."""
    _requirements()
    h = Host(env={"XENIA_NETWORK": "0"}).start()
    try:
        assert not any(l.startswith("NETNS=") for l in h.output)
        with h.session() as s:
            assert s("PIF.get_all") == []
            n = s("network.create", {"name_label": "n", "name_description": "", "MTU": "1500",
                                     "other_config": {}})
            vm = s("VM.create", vm_record(name_label="no-net"))
            vif = s("VIF.create", vif_record(vm, n))
            s("VM.start", vm, False, False)
            assert s("VIF.get_currently_attached", vif) is False
            assert s.error("VIF.plug", vif)[0] == "MESSAGE_NOT_IMPLEMENTED"
            host = s("host.get_all")[0]
            e = s.error("PIF.scan", host)
            assert e[0] == "INTERNAL_ERROR" and "networkd" in e[1]
            assert s.error("host.get_management_interface", host)[0] == "INTERNAL_ERROR"
            s("VM.hard_shutdown", vm)
            s("VIF.destroy", vif)
            s("VM.destroy", vm)
            s("network.destroy", n)
    finally:
        close_host(h, request)
