"""The xe network commands (network-create, pif-reconfigure-ip/-ipv6,
pif-set-primary-address-type, pif-introduce, pif-db-forget, pif-param-set
properties:, vlan-create, vlan-destroy, pool-vlan-create, tunnel-create,
tunnel-destroy, bond-create, bond-set-mode, bond-param-set properties:,
vif-create, vif-move, vif-configure-ipv4/-ipv6, vm-vif-list,
host-/pool-management-reconfigure, host-management-disable,
host-emergency-management-reconfigure) on a real host
with its own network namespace, Open vSwitch and networkd
(scripts/run-host): the bytes
each prints as XCP prints them, XCP's parameter parsing and its errors in
their multi-line form with exit status 1, and --minimal. Skipped, saying
why, where OVS cannot run."""

import os
import re

import pytest

from test_cli import UUID, ok, xe
from test_network_api import close_host, pifs_by_device, start_host, wait_synced
from xeniatest import vm_record

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

INTERNAL = ("The server failed to handle your request, due to an internal error. The given "
            "message may give details useful for debugging the problem.\n")
UUID_INVALID = "The uuid you supplied was invalid.\ntype: %s\nuuid: %s\n"


@pytest.fixture(scope="module")
def nhost(request):
    h, info = start_host(request)
    with h.session() as s:
        wait_synced(s)
    yield h
    close_host(h, request)


@pytest.fixture
def s(nhost):
    with nhost.session() as session:
        yield session


def pif_uuid(s, device):
    ref = pifs_by_device(s)[device][0]
    return s("PIF.get_uuid", ref)


def net_of(s, device):
    return s("network.get_uuid", pifs_by_device(s)[device][1]["network"])


def get(host, cls, uuid, name, key=None):
    args = [cls + "-param-get", "uuid=" + uuid, "param-name=" + name]
    if key:
        args.append("param-key=" + key)
    return ok(host, *args).rstrip("\n")


def fails(host, *args):
    """Runs a command that must fail; its stderr (stdout must be empty)."""
    code, out, err = xe(host, *args)
    assert code == 1, (args, out, err)
    assert out == "", (args, out)
    return err


def golden_record(pairs):
    """A record as xe prints it (xe-cli.md 2.1)."""
    w = 4 + max(len(k) for k, _ in pairs)
    lines = [(k.ljust(w) if i == 0 else k.rjust(w)) + ": " + v for i, (k, v) in enumerate(pairs)]
    return "\n".join(lines) + "\n\n\n"


def test_network_create(nhost):
    out = ok(nhost, "network-create", "name-label=cli net", "name-description=made by xe",
             "MTU=9000")
    assert re.fullmatch(UUID + "\n", out), out
    net = out.strip()
    try:
        assert get(nhost, "network", net, "name-label") == "cli net"
        assert get(nhost, "network", net, "name-description") == "made by xe"
        assert get(nhost, "network", net, "MTU") == "9000"
        assert get(nhost, "network", net, "bridge").startswith("xapi")
        assert get(nhost, "network", net, "managed") == "true"
        # network-list shows it as XCP does.
        bridge = get(nhost, "network", net, "bridge")
        assert ok(nhost, "network-list", "uuid=" + net) == golden_record(
            [("uuid ( RO)", net), ("name-label ( RW)", "cli net"),
             ("name-description ( RW)", "made by xe"), ("bridge ( RO)", bridge)])
    finally:
        ok(nhost, "network-destroy", "uuid=" + net)
    # --minimal: the uuid alone; the default MTU; a bridge of the client's.
    out = ok(nhost, "network-create", "name-label=own", "bridge=br-cli", "--minimal")
    net = out.strip()
    assert re.fullmatch(UUID + "\n", out)
    assert get(nhost, "network", net, "bridge") == "br-cli"
    assert get(nhost, "network", net, "MTU") == "1500"
    ok(nhost, "network-destroy", "uuid=" + net)
    # XCP reads MTU with Int64.of_string: a failure is an internal error.
    assert fails(nhost, "network-create", "name-label=x", "MTU=big") == \
        INTERNAL + "message: Failure: Int64.of_string\n"
    # The API's refusal, multi-line.
    assert fails(nhost, "network-create", "name-label=x", "bridge=bad/name") == \
        "The value given is invalid\nfield: bridge\nvalue: bad/name\n"
    assert fails(nhost, "network-create") == \
        "Required parameter not found: name-label\nFor usage run: 'xe help'\n"
    assert ok(nhost, "network-list", "name-label=x", "--minimal") == "\n"


def test_pif_reconfigure_ip(nhost, s):
    eth1 = pif_uuid(s, "eth1")
    # IP and DNS are read in any case; nothing is printed.
    assert ok(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=STATIC", "ip=10.99.1.2",
              "netmask=255.255.255.0", "Dns=10.99.1.1") == ""
    assert get(nhost, "pif", eth1, "IP-configuration-mode") == "Static"
    assert get(nhost, "pif", eth1, "IP") == "10.99.1.2"
    assert get(nhost, "pif", eth1, "netmask") == "255.255.255.0"
    assert get(nhost, "pif", eth1, "DNS") == "10.99.1.1"
    # XCP's enum parser: any case in, the declared names and the lowered
    # text in its error.
    assert fails(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=Bogus") == \
        "Error: Expected one of 'None', 'DHCP', 'Static', got bogus\n"
    assert fails(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=static",
                 "IP=10.99.1.300", "netmask=255.255.255.0") == \
        "A required parameter contained an invalid IP address\nparameter: IP\n"
    # A bad uuid is reported before the mode is looked at.
    assert fails(nhost, "pif-reconfigure-ip", "uuid=nope", "mode=bogus") == \
        UUID_INVALID % ("PIF", "nope")
    assert fails(nhost, "pif-reconfigure-ip", "uuid=" + eth1) == \
        "Required parameter not found: mode\nFor usage run: 'xe help'\n"
    assert ok(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=none", "--minimal") == "\n"
    assert get(nhost, "pif", eth1, "IP-configuration-mode") == "None"


def test_pif_reconfigure_ipv6_and_primary_address_type(nhost, s):
    eth1 = pif_uuid(s, "eth1")
    assert ok(nhost, "pif-reconfigure-ipv6", "uuid=" + eth1, "mode=static",
              "ipv6=fd00:99:1::2/64") == ""
    assert get(nhost, "pif", eth1, "IPv6-configuration-mode") == "Static"
    assert "fd00:99:1::2/64" in get(nhost, "pif", eth1, "IPv6")
    assert fails(nhost, "pif-reconfigure-ipv6", "uuid=" + eth1, "mode=x") == \
        "Error: Expected one of 'None', 'DHCP', 'Static', 'Autoconf', got x\n"
    assert ok(nhost, "pif-set-primary-address-type", "uuid=" + eth1,
              "primary_address_type=ipv6") == ""
    assert get(nhost, "pif", eth1, "primary-address-type") == "IPv6"
    assert fails(nhost, "pif-set-primary-address-type", "uuid=" + eth1,
                 "primary_address_type=IPv5") == \
        "Error: Expected one of 'IPv4', 'IPv6', got ipv5\n"
    assert fails(nhost, "pif-set-primary-address-type", "uuid=" + eth1) == \
        "Required parameter not found: primary_address_type\nFor usage run: 'xe help'\n"
    ok(nhost, "pif-reconfigure-ipv6", "uuid=" + eth1, "mode=none")
    ok(nhost, "pif-set-primary-address-type", "uuid=" + eth1, "primary_address_type=IPv4")
    assert get(nhost, "pif", eth1, "primary-address-type") == "IPv4"


def test_pif_introduce(nhost, s):
    host = ok(nhost, "host-list", "--minimal").strip()
    eth1 = pif_uuid(s, "eth1")
    mac = get(nhost, "pif", eth1, "MAC")
    network = get(nhost, "pif", eth1, "network-uuid")
    err = fails(nhost, "pif-introduce", "host-uuid=" + host, "device=eth1", "mac=" + mac)
    assert err == "A PIF with this specified device name already exists.\ndevice: eth1\n"
    assert fails(nhost, "pif-introduce", "host-uuid=nohost", "device=eth1") == \
        UUID_INVALID % ("host", "nohost")
    ok(nhost, "pif-forget", "uuid=" + eth1)
    out = ok(nhost, "pif-introduce", "host-uuid=" + host, "device=eth1", "mac=" + mac)
    assert re.fullmatch(UUID + "\n", out), out
    new = out.strip()
    assert new != eth1
    assert get(nhost, "pif", new, "network-uuid") == network
    assert get(nhost, "pif", new, "device") == "eth1"
    ok(nhost, "pif-plug", "uuid=" + new)
    assert get(nhost, "pif", new, "currently-attached") == "true"
    # pif-db-forget (hidden): only the record goes; pif-scan finds the NIC
    # again.
    assert fails(nhost, "pif-db-forget", "uuid=nopif") == UUID_INVALID % ("PIF", "nopif")
    assert ok(nhost, "pif-db-forget", "uuid=" + new) == ""
    assert fails(nhost, "pif-param-get", "uuid=" + new, "param-name=device") == \
        UUID_INVALID % ("PIF", new)
    assert ok(nhost, "pif-scan", "host-uuid=" + host) == ""
    again = pif_uuid(s, "eth1")
    assert again != new
    assert get(nhost, "pif", again, "network-uuid") == network
    ok(nhost, "pif-plug", "uuid=" + again)
    assert get(nhost, "pif", again, "currently-attached") == "true"


def test_pif_param_set_properties(nhost, s):
    """A key of a PIF's properties is set through PIF.set_property, as in
    XCP; other read-only maps stay read-only."""
    eth1 = pif_uuid(s, "eth1")
    assert ok(nhost, "pif-param-set", "uuid=" + eth1, "properties:gro=off") == ""
    assert get(nhost, "pif", eth1, "properties", "gro") == "off"
    assert fails(nhost, "pif-param-set", "uuid=" + eth1, "properties:gro=maybe") == \
        "The value given is invalid\nfield: properties\nvalue: gro = maybe\n"
    assert ok(nhost, "pif-param-set", "uuid=" + eth1, "properties:gro=on") == ""
    assert get(nhost, "pif", eth1, "properties", "gro") == "on"
    assert fails(nhost, "pif-param-set", "uuid=" + eth1, "capabilities:x=y") == \
        "Error: Unknown field 'capabilities'\n"


def test_vlan_create(nhost, s):
    eth1 = pif_uuid(s, "eth1")
    net = ok(nhost, "network-create", "name-label=vlan net").strip()
    try:
        out = ok(nhost, "vlan-create", "pif-uuid=" + eth1, "vlan=42", "network-uuid=" + net)
        # XCP prints the new VLAN PIF, not the VLAN object.
        assert re.fullmatch(UUID + "\n", out), out
        vpif = out.strip()
        vlan = ok(nhost, "vlan-list", "tag=42", "--minimal").strip()
        assert re.fullmatch(UUID, vlan) and vlan != vpif
        assert get(nhost, "vlan", vlan, "untagged-PIF") == vpif
        assert get(nhost, "vlan", vlan, "tagged-PIF") == eth1
        assert get(nhost, "pif", vpif, "VLAN") == "42"
        assert get(nhost, "pif", vpif, "network-uuid") == net
        other = ok(nhost, "network-create", "name-label=other").strip()
        try:
            assert fails(nhost, "vlan-create", "pif-uuid=" + eth1, "vlan=42",
                         "network-uuid=" + other) == \
                "You tried to create a PIF, but it already exists.\nPIF: eth1\n"
        finally:
            ok(nhost, "network-destroy", "uuid=" + other)
        ok(nhost, "vlan-destroy", "uuid=" + vlan)
        assert ok(nhost, "vlan-list", "tag=42", "--minimal") == "\n"
        assert fails(nhost, "vlan-create", "pif-uuid=" + eth1, "vlan=4095",
                     "network-uuid=" + net) == \
            ("The VLAN tag you gave was invalid -- it must be between 0 and 4094. The "
             "parameter echoes the VLAN tag you gave.\nVLAN: 4095\n")
        assert fails(nhost, "vlan-create", "pif-uuid=" + eth1, "vlan=forty",
                     "network-uuid=" + net) == \
            "Error: Failed to parse parameter 'vlan': expecting an integer\n"
        # The network is looked up first, then the PIF.
        assert fails(nhost, "vlan-create", "pif-uuid=nopif", "vlan=5",
                     "network-uuid=nonet") == UUID_INVALID % ("network", "nonet")
        assert fails(nhost, "vlan-create", "pif-uuid=nopif", "vlan=5",
                     "network-uuid=" + net) == UUID_INVALID % ("PIF", "nopif")
        # --minimal: the one uuid.
        out = ok(nhost, "vlan-create", "pif-uuid=" + eth1, "vlan=0x10", "network-uuid=" + net,
                 "--minimal")
        assert get(nhost, "pif", out.strip(), "VLAN") == "16"
        # vlan-destroy takes the VLAN PIF too, as XCP still does: it calls
        # PIF.destroy on it, which destroys its VLAN.
        vpif = out.strip()
        code, out, err = xe(nhost, "vlan-destroy", "uuid=" + vpif)
        assert (code, out, err) == (0, "", "")
        assert ok(nhost, "vlan-list", "tag=16", "--minimal") == "\n"
        assert ok(nhost, "pif-list", "uuid=" + vpif, "--minimal") == "\n"
        assert fails(nhost, "vlan-destroy", "uuid=novlan") == UUID_INVALID % ("VLAN", "novlan")
        # A physical PIF is no VLAN: the PIF's refusal is printed.
        assert fails(nhost, "vlan-destroy", "uuid=" + eth1) == \
            "You tried to destroy a PIF, but it represents an aspect of the physical host " \
            "configuration, and so cannot be destroyed. The parameter echoes the PIF handle " \
            "you gave.\nPIF: %s\n" % eth1
    finally:
        ok(nhost, "network-destroy", "uuid=" + net)


def test_pool_vlan_create(nhost, s):
    eth1 = pif_uuid(s, "eth1")
    net = ok(nhost, "network-create", "name-label=pool vlan").strip()
    try:
        code, out, err = xe(nhost, "pool-vlan-create", "pif-uuid=" + eth1, "vlan=77",
                            "network-uuid=" + net)
        assert code == 0, err
        # One new VLAN PIF per host: this pool has one host.
        assert re.fullmatch(UUID + "\n", out), out
        assert get(nhost, "pif", out.strip(), "VLAN") == "77"
        ok(nhost, "vlan-destroy",
           "uuid=" + ok(nhost, "vlan-list", "tag=77", "--minimal").strip())
        assert fails(nhost, "pool-vlan-create", "pif-uuid=" + eth1, "vlan=x",
                     "network-uuid=" + net) == \
            "Error: Failed to parse parameter 'vlan': expecting an integer\n"
    finally:
        ok(nhost, "network-destroy", "uuid=" + net)


def test_tunnel_create(nhost, s):
    eth0 = pif_uuid(s, "eth0")
    net = ok(nhost, "network-create", "name-label=tunnel net").strip()
    try:
        assert fails(nhost, "tunnel-create", "pif-uuid=" + eth0, "network-uuid=" + net,
                     "protocol=ipip") == "Error: Expected one of 'gre', 'vxlan', got ipip\n"
        assert fails(nhost, "tunnel-create", "pif-uuid=nopif", "network-uuid=nonet") == \
            UUID_INVALID % ("network", "nonet")
        # XCP prints the access PIF.
        out = ok(nhost, "tunnel-create", "pif-uuid=" + eth0, "network-uuid=" + net,
                 "protocol=VXLAN")
        assert re.fullmatch(UUID + "\n", out), out
        access = out.strip()
        assert get(nhost, "pif", access, "device") == "tunnel0"
        assert get(nhost, "pif", access, "network-uuid") == net
        tunnel = ok(nhost, "tunnel-list", "access-PIF=" + access, "--minimal").strip()
        assert re.fullmatch(UUID, tunnel), tunnel
        assert get(nhost, "tunnel", tunnel, "transport-PIF") == eth0
        assert get(nhost, "tunnel", tunnel, "protocol") == "vxlan"
        assert fails(nhost, "tunnel-create", "pif-uuid=" + access, "network-uuid=" + net) == \
            ("You tried to create a PIF, but the network you tried to attach it to is already "
             "attached to some other PIF, and so the creation failed.\nnetwork: %s (tunnel net)\n"
             "connected PIF: %s\n" % (net, access))
        assert ok(nhost, "tunnel-destroy", "uuid=" + tunnel) == ""
        assert ok(nhost, "tunnel-list", "--minimal") == "\n"
        assert fails(nhost, "tunnel-destroy", "uuid=notunnel") == \
            UUID_INVALID % ("tunnel", "notunnel")
    finally:
        for t in ok(nhost, "tunnel-list", "--minimal").strip().split(","):
            if t:
                ok(nhost, "tunnel-destroy", "uuid=" + t)
        ok(nhost, "network-destroy", "uuid=" + net)


def test_bond_create_and_set_mode(nhost, s):
    eth0, eth1 = pif_uuid(s, "eth0"), pif_uuid(s, "eth1")
    net = ok(nhost, "network-create", "name-label=bond net").strip()
    bond = None
    try:
        assert fails(nhost, "bond-create", "network-uuid=" + net, "pif-uuids=" + eth1) == \
            "A bond must consist of at least two member interfaces\n"
        assert fails(nhost, "bond-create", "network-uuid=" + net,
                     "pif-uuids=%s,,%s" % (eth0, eth1)) == UUID_INVALID % ("PIF", "")
        assert fails(nhost, "bond-create", "network-uuid=" + net,
                     "pif-uuids=%s,%s" % (eth0, eth1), "mode=fast") == \
            "Error: Invalid bond mode. Got fast\n"
        assert fails(nhost, "bond-create", "network-uuid=" + net,
                     "pif-uuids=%s,%s" % (eth0, eth1), "mac=bad") == \
            "The MAC address specified is not valid.\nMAC: bad\n"
        out = ok(nhost, "bond-create", "network-uuid=" + net, "pif-uuids=%s,%s" % (eth0, eth1),
                 "mode=Active-Backup")
        assert re.fullmatch(UUID + "\n", out), out
        bond = out.strip()
        assert get(nhost, "bond", bond, "mode") == "active-backup"
        assert sorted(get(nhost, "bond", bond, "slaves").split("; ")) == sorted([eth0, eth1])
        master = get(nhost, "bond", bond, "master")
        assert get(nhost, "pif", master, "network-uuid") == net
        assert ok(nhost, "bond-set-mode", "uuid=" + bond, "mode=balance-slb") == ""
        assert get(nhost, "bond", bond, "mode") == "balance-slb"
        assert fails(nhost, "bond-set-mode", "uuid=" + bond, "mode=LACP2") == \
            "Error: Invalid bond mode. Got lacp2\n"
        assert fails(nhost, "bond-set-mode", "uuid=nobond", "mode=lacp") == \
            UUID_INVALID % ("Bond", "nobond")
        # bond-param-set on a key of properties goes through Bond.set_property.
        ok(nhost, "bond-param-set", "uuid=" + bond, "properties:hashing_algorithm=src_mac")
        assert get(nhost, "bond", bond, "properties", "hashing_algorithm") == "src_mac"
        ok(nhost, "bond-destroy", "uuid=" + bond)
        bond = None
        # properties: at creation, --minimal.
        out = ok(nhost, "bond-create", "network-uuid=" + net, "pif-uuids=%s,%s" % (eth0, eth1),
                 "properties:hashing_algorithm=src_mac", "--minimal")
        bond = out.strip()
        assert re.fullmatch(UUID + "\n", out), out
        assert get(nhost, "bond", bond, "mode") == "balance-slb"
        assert get(nhost, "bond", bond, "properties", "hashing_algorithm") == "src_mac"
    finally:
        if bond:
            ok(nhost, "bond-destroy", "uuid=" + bond)
        ok(nhost, "network-destroy", "uuid=" + net)
    # The management interface is back on eth0.
    assert get(nhost, "pif", pif_uuid(s, "eth0"), "management") == "true"


def test_vif_create_move_configure_and_vm_vif_list(nhost, s):
    vm_ref = s("VM.create", vm_record(name_label="vif-cli"))
    vm = s("VM.get_uuid", vm_ref)
    twin = s("VM.get_uuid", s("VM.create", vm_record(name_label="vif-cli")))
    n1, n0 = net_of(s, "eth1"), net_of(s, "eth0")
    try:
        out = ok(nhost, "vif-create", "vm-uuid=" + vm, "network-uuid=" + n1, "device=0",
                 "mac=random")
        assert re.fullmatch(UUID + "\n", out), out
        v0 = out.strip()
        mac = get(nhost, "vif", v0, "MAC")
        # XCP's random MAC: one random byte in every octet, the first one
        # made locally administered and unicast.
        octets = [int(x, 16) for x in mac.split(":")]
        assert len(octets) == 6 and len(set(octets[1:])) == 1
        assert octets[0] == (octets[1] | 2) & ~1
        assert get(nhost, "vif", v0, "MTU") == get(nhost, "network", n1, "MTU")
        v1 = ok(nhost, "vif-create", "vm-uuid=" + vm, "network-uuid=" + n1, "device=1",
                "mac=00:16:3e:aa:bb:01", "--minimal").strip()
        assert get(nhost, "vif", v1, "MAC") == "00:16:3e:aa:bb:01"
        v2 = ok(nhost, "vif-create", "vm-uuid=" + twin, "network-uuid=" + n0,
                "device=0").strip()
        assert get(nhost, "vif", v2, "MAC-autogenerated") == "true"
        assert fails(nhost, "vif-create", "vm-uuid=novm", "network-uuid=nonet", "device=2") == \
            UUID_INVALID % ("VM", "novm")
        assert fails(nhost, "vif-create", "vm-uuid=" + vm, "network-uuid=nonet", "device=2") == \
            UUID_INVALID % ("network", "nonet")
        assert fails(nhost, "vif-create", "vm-uuid=" + vm, "network-uuid=" + n1) == \
            "Required parameter not found: device\nFor usage run: 'xe help'\n"
        # vif-move: nothing printed, the network changes.
        assert ok(nhost, "vif-move", "uuid=" + v1, "network-uuid=" + n0) == ""
        assert get(nhost, "vif", v1, "network-uuid") == n0
        # vm-vif-list: XCP's columns in the record's order, for every VM the
        # selectors pick (no --multiple needed).
        n1_name = get(nhost, "network", n1, "name-label")
        n0_name = get(nhost, "network", n0, "name-label")

        def rec(v, vm_name, dev, m, n, nn):
            return golden_record([("uuid ( RO)", v), ("vm-name-label ( RO)", vm_name),
                                  ("device ( RO)", dev), ("MAC ( RO)", m),
                                  ("network-uuid ( RO)", n), ("network-name-label ( RO)", nn)])
        one = ok(nhost, "vm-vif-list", "uuid=" + vm)
        recs = {v0: rec(v0, "vif-cli", "0", mac, n1, n1_name),
                v1: rec(v1, "vif-cli", "1", "00:16:3e:aa:bb:01", n0, n0_name)}
        assert one in (recs[v0] + recs[v1], recs[v1] + recs[v0]), one
        both = ok(nhost, "vm-vif-list", "vm=vif-cli")
        assert len(both) == len(one) + len(rec(v2, "vif-cli", "0",
                                               get(nhost, "vif", v2, "MAC"), n0, n0_name))
        assert rec(v2, "vif-cli", "0", get(nhost, "vif", v2, "MAC"), n0, n0_name) in both
        assert sorted(ok(nhost, "vm-vif-list", "vm=vif-cli", "--minimal").strip().split(",")) \
            == sorted([v0, v1, v2])
        assert ok(nhost, "vm-vif-list", "uuid=" + vm, "params=MAC", "--minimal") in \
            ("%s,00:16:3e:aa:bb:01\n" % mac, "00:16:3e:aa:bb:01,%s\n" % mac)
        assert fails(nhost, "vm-vif-list", "vm=nobody") == "Error: No matching VMs found\n"
        # vif-configure-ipv4/-ipv6: XCP's checks, then the API's answer.
        assert fails(nhost, "vif-configure-ipv4", "uuid=" + v0, "mode=static") == \
            "Error: Required parameter not found: address\n"
        assert fails(nhost, "vif-configure-ipv4", "uuid=" + v0, "mode=auto") == \
            "Error: Expected one of 'None', 'Static', 'DHCP', got auto\n"
        assert fails(nhost, "vif-configure-ipv6", "uuid=" + v0, "mode=dhcp") == \
            "Error: Expected one of 'None', 'Static', 'Autoconf', got dhcp\n"
        # The API's checks (XCP's), then its refusal of a guest whose agent
        # does not announce feature-static-ip-setting (no guest here does).
        for cmd, good, bad in (("vif-configure-ipv4", "10.0.0.5/24", "10.0.0.5/33"),
                               ("vif-configure-ipv6", "fd00::5/64", "10.0.0.5/24")):
            assert fails(nhost, cmd, "uuid=" + v0, "mode=static", "address=" + bad) == \
                ("A required parameter contained an invalid CIDR address (<addr>/<prefix "
                 "length>)\nparameter: address\n")
            assert fails(nhost, cmd, "uuid=" + v0, "mode=static", "address=" + good,
                         "gateway=nowhere") == \
                "A required parameter contained an invalid IP address\nparameter: gateway\n"
            assert fails(nhost, cmd, "uuid=" + v0, "mode=static", "address=" + good) == \
                "You attempted an operation on a VM which lacks the feature.\nvm: %s (vif-cli)\n" % vm
        assert get(nhost, "vif", v0, "ipv4-configuration-mode") == "None"
    finally:
        for uuid in (vm, twin):
            ref = s("VM.get_by_uuid", uuid)
            for vif in s("VM.get_VIFs", ref):
                s("VIF.destroy", vif)
            s("VM.destroy", ref)


def test_management_reconfigure(nhost, s):
    eth0, eth1 = pif_uuid(s, "eth0"), pif_uuid(s, "eth1")
    assert fails(nhost, "host-management-reconfigure", "pif-uuid=" + eth1) == \
        "PIF has no IP configuration (mode currently set to 'none')\nPIF: %s\n" % eth1
    assert fails(nhost, "host-management-reconfigure", "pif-uuid=nopif") == \
        UUID_INVALID % ("PIF", "nopif")
    ok(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=static", "IP=10.99.1.2",
       "netmask=255.255.255.0")
    try:
        assert ok(nhost, "host-management-reconfigure", "pif-uuid=" + eth1) == ""
        assert get(nhost, "pif", eth1, "management") == "true"
        assert get(nhost, "pif", eth0, "management") == "false"
        # The pool's form, by network; nothing printed under --minimal but
        # the empty line.
        assert ok(nhost, "pool-management-reconfigure", "network-uuid=" + net_of(s, "eth0"),
                  "--minimal") == "\n"
        assert get(nhost, "pif", eth0, "management") == "true"
        assert fails(nhost, "pool-management-reconfigure", "network-uuid=nonet") == \
            UUID_INVALID % ("network", "nonet")
        # host-management-disable: no PIF is the management one any more,
        # until host-management-reconfigure names one.
        assert ok(nhost, "host-management-disable") == ""
        assert get(nhost, "pif", eth0, "management") == "false"
        assert get(nhost, "pif", eth1, "management") == "false"
        assert ok(nhost, "host-management-reconfigure", "pif-uuid=" + eth0) == ""
        assert get(nhost, "pif", eth0, "management") == "true"
        # Only for a pool member in emergency mode, which this host is not.
        code, out, err = xe(nhost, "host-emergency-management-reconfigure", "interface=xenbr1")
        assert (code, out) == (1, "")
        assert err == "This pool is not in emergency mode.\n"
        assert get(nhost, "pif", eth0, "management") == "true"
    finally:
        if get(nhost, "pif", eth0, "management") != "true":
            ok(nhost, "host-management-reconfigure", "pif-uuid=" + eth0)
        ok(nhost, "pif-reconfigure-ip", "uuid=" + eth1, "mode=none")
