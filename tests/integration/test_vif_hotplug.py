"""Hot-plug of NICs into running VMs: VIF.plug and VIF.unplug through
domaind's domain/nic_attach and nic_detach (the sim backend keeps the
domain's nics in its configuration) and networkd's port for the VIF
(stand-in ports in the host's network namespace, scripts/run-host), with
the refusals XenAPI names, and a failure of either agent leaving the VIF,
the domain and the port as they were. domaind's two methods are also
called directly, with every refusal of their parameters."""
import json
import os
import shutil

import pytest

from networkdtest import ovs_rows
from xeniatest import Host, XenAPIError, agent_answer, agent_call, build_dir, vm_record, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture(scope="module")
def nhost():
    for binary in ("networkd", "xapi", "domaind", "storaged"):
        if not (build_dir() / binary).exists():
            pytest.skip("no %s in %s" % (binary, build_dir()))
    if not shutil.which("ovs-vswitchd"):
        pytest.skip("ovs-vswitchd is not installed")
    h = Host()
    try:
        h.start()
        line = next((l for l in h.output if l.startswith("NETNS=")), None)
        if line is None:
            pytest.skip("cannot run a host network here: %s" % h.output[-3:])
        kv = dict(part.split("=", 1) for part in line.split())
        h.netns, h.ovs = kv["NETNS"], kv["OVS_RUNDIR"]
        yield h
    finally:
        h.close()
        reports = h.sanitizer_reports()
        h.remove_state()
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture
def s(nhost):
    with nhost.session() as session:
        yield session


def domaind(host, method, **params):
    return agent_answer(host, "domaind", method, **params)


def rows(host, table, *conds):
    return ovs_rows(host.netns, host.ovs, table, *conds)


def domain_nics(host, s, vm):
    """{devid: nic} of the VM's domain as the simulated hypervisor keeps it."""
    d = agent_call(host, "domaind", "domain/get", uuid=s("VM.get_uuid", vm))
    assert d["state"] in ("running", "paused")
    path = host.state_dir / "sim-hypervisor" / "domains" / (d["uuid"] + ".json")
    saved = json.loads(path.read_text())
    return {x.get("devid", i): x for i, x in enumerate(saved.get("nics") or [])}


def port_name(s, vm, vif):
    return "vif%s.%s" % (s("VM.get_domid", vm), s("VIF.get_device", vif))


def a_network(s):
    """The network of eth0's PIF, once xapi's first start made it."""
    def net():
        for rec in s("PIF.get_all_records").values():
            if rec["device"] == "eth0" and rec["VLAN"] == "-1":
                return rec["network"]
        return None
    return wait_until(net, 30, what="eth0's PIF")


def new_vif(s, vm, network, device, mac=""):
    return s("VIF.create", {"device": device, "network": network, "VM": vm, "MAC": mac,
                            "MTU": "0", "other_config": {}, "qos_algorithm_type": "",
                            "qos_algorithm_params": {}})


@pytest.fixture
def running_vm(s):
    """A running VM with one VIF (device 0) on eth0's network."""
    vm = s("VM.create", vm_record(name_label="vif-hotplug"))
    vif = new_vif(s, vm, a_network(s), "0")
    s("VM.start", vm, False, False)
    yield vm, vif
    try:
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        for v in s("VM.get_VIFs", vm):
            s("VIF.destroy", v)
        s("VM.destroy", vm)
    except XenAPIError:
        pass


def test_unplug_then_plug_moves_the_nic_and_the_port(s, nhost, running_vm):
    vm, vif = running_vm
    assert s("VIF.get_currently_attached", vif) is True
    name = port_name(s, vm, vif)
    mac = s("VIF.get_MAC", vif)
    assert domain_nics(nhost, s, vm)[0]["mac"] == mac
    assert rows(nhost, "Interface", "name=%s" % name)

    s("VIF.unplug", vif)
    assert s("VIF.get_currently_attached", vif) is False
    assert 0 not in domain_nics(nhost, s, vm)
    assert rows(nhost, "Interface", "name=%s" % name) == []
    assert s("VM.get_power_state", vm) == "Running"
    assert s.error("VIF.unplug", vif) == ["DEVICE_ALREADY_DETACHED", vif]

    s("VIF.plug", vif)
    assert s("VIF.get_currently_attached", vif) is True
    nic = domain_nics(nhost, s, vm)[0]
    assert nic["mac"] == mac
    assert nic["bridge"] == s("network.get_bridge", s("VIF.get_network", vif))
    iface = rows(nhost, "Interface", "name=%s" % name)
    assert iface and iface[0]["external_ids"]["xs-vif-uuid"] == s("VIF.get_uuid", vif)
    assert iface[0]["external_ids"]["xs-vm-uuid"] == s("VM.get_uuid", vm)
    assert s.error("VIF.plug", vif) == ["DEVICE_ALREADY_ATTACHED", vif]


def test_a_vif_created_while_running_is_plugged_on_demand(s, nhost, running_vm):
    vm, _ = running_vm
    vif = new_vif(s, vm, a_network(s), "3", mac="00:16:3e:12:34:56")
    assert s("VIF.get_currently_attached", vif) is False
    assert 3 not in domain_nics(nhost, s, vm)
    s("VIF.plug", vif)
    assert domain_nics(nhost, s, vm)[3]["mac"] == "00:16:3e:12:34:56"
    assert rows(nhost, "Interface", "name=%s" % port_name(s, vm, vif))
    # VIF.unplug_force is the same for a NIC: a guest cannot keep one.
    s("VIF.unplug_force", vif)
    assert 3 not in domain_nics(nhost, s, vm)
    assert rows(nhost, "Interface", "name=%s" % port_name(s, vm, vif)) == []
    s("VIF.destroy", vif)


def test_plug_and_unplug_need_a_running_vm(s, nhost):
    vm = s("VM.create", vm_record(name_label="vif-halted"))
    try:
        vif = new_vif(s, vm, a_network(s), "0")
        assert s.error("VIF.plug", vif) == ["VM_BAD_POWER_STATE", vm, "running", "Halted"]
        assert s.error("VIF.unplug", vif) == ["DEVICE_ALREADY_DETACHED", vif]
        assert s.error("VIF.plug", "OpaqueRef:nonsense")[0] == "HANDLE_INVALID"
        s("VIF.destroy", vif)
    finally:
        s("VM.destroy", vm)


def test_a_failed_attach_leaves_the_vif_detached(s, nhost, running_vm):
    vm, _ = running_vm
    vif = new_vif(s, vm, a_network(s), "1")
    agent_call(nhost, "domaind", "sim/fail", method="domain/nic_attach", count=1)
    e = s.error("VIF.plug", vif)
    assert e[0] == "INTERNAL_ERROR" and "nic_attach" in e[1], e
    assert s("VIF.get_currently_attached", vif) is False
    assert 1 not in domain_nics(nhost, s, vm)
    assert rows(nhost, "Interface", "name=%s" % port_name(s, vm, vif)) == []
    # the next try works
    s("VIF.plug", vif)
    assert 1 in domain_nics(nhost, s, vm)


def test_a_failed_detach_keeps_the_vif_and_its_port(s, nhost, running_vm):
    vm, vif = running_vm
    name = port_name(s, vm, vif)
    agent_call(nhost, "domaind", "sim/fail", method="domain/nic_detach", count=1)
    e = s.error("VIF.unplug", vif)
    assert e[0] == "INTERNAL_ERROR" and "nic_detach" in e[1], e
    assert s("VIF.get_currently_attached", vif) is True
    assert 0 in domain_nics(nhost, s, vm)
    wait_until(lambda: rows(nhost, "Interface", "name=%s" % name), 30, what="the port back")


def test_a_nic_the_domain_lost_is_recorded_as_detached(s, nhost, running_vm):
    vm, vif = running_vm
    uuid = s("VM.get_uuid", vm)
    agent_call(nhost, "domaind", "domain/nic_detach", uuid=uuid, devid=0)
    s("VIF.unplug", vif)
    assert s("VIF.get_currently_attached", vif) is False


def test_domaind_nic_methods_check_their_parameters(s, nhost, running_vm):
    vm, _ = running_vm
    uuid = s("VM.get_uuid", vm)

    def refused(method, **params):
        result, error = domaind(nhost, method, **params)
        assert result is None and error is not None, (method, params, result)
        return error

    for nic, what in (({}, "devid"), ({"devid": 1024}, "devid"), ({"devid": -1}, "devid"),
                      ({"devid": "1"}, "devid"), ({"devid": 1, "mac": "01:00:00:00:00:01"}, "mac"),
                      ({"devid": 1, "mac": "zz"}, "mac"), ({"devid": 1, "bridge": ""}, "bridge"),
                      ({"devid": 1, "bridge": "a" * 16}, "bridge"),
                      ({"devid": 1, "mtu": 67}, "mtu"), ({"devid": 1, "script": ""}, "script"),
                      ({"devid": 1, "colour": "red"}, "colour")):
        e = refused("domain/nic_attach", uuid=uuid, nic=nic)
        assert e["code"] == -32602 and what in e["message"], (nic, e)
    assert refused("domain/nic_attach", uuid=uuid, nic=[1])["code"] == -32602
    assert refused("domain/nic_detach", uuid=uuid, devid=4096)["code"] == -32602
    e = refused("domain/nic_attach", uuid=uuid, nic={"devid": 0})
    assert e["data"]["error"] == "DEVICE_EXISTS" and e["data"]["params"] == [uuid, "0"]
    e = refused("domain/nic_detach", uuid=uuid, devid=7)
    assert e["data"]["error"] == "NO_SUCH_DEVICE" and e["data"]["params"] == [uuid, "7"]
    other = "00000000-0000-4000-8000-00000000abcd"
    e = refused("domain/nic_attach", uuid=other, nic={"devid": 1})
    assert e["data"]["error"] == "NO_SUCH_DOMAIN"
    # A hot-plugged nic is part of the domain's configuration.
    agent_call(nhost, "domaind", "domain/nic_attach", uuid=uuid,
               nic={"devid": 9, "mac": "00:16:3e:00:00:09", "bridge": "xenbr0", "mtu": 1500})
    assert domain_nics(nhost, s, vm)[9]["mac"] == "00:16:3e:00:00:09"
    agent_call(nhost, "domaind", "domain/nic_detach", uuid=uuid, devid=9)
    assert 9 not in domain_nics(nhost, s, vm)
