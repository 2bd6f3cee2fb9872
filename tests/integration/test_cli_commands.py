"""The xe commands of the fourth round that need no host network: the
snapshot commands (snapshot-disk-list, -clone, -copy, -revert,
-reset-powerstate, -uninstall, -destroy), template-uninstall, vm-checkpoint
and host-get-vms-which-prevent-evacuation, with XCP's output, errors and
exit codes; and `help` and bash completion, which read the command table,
for every command this round added."""

import os
import re
import subprocess

from test_cli import UUID, host, ok, xe  # noqa: F401  (the host fixture)
from xeniatest import build_dir, vm_record

NOT_SNAPSHOT = "Error: This operation can only be performed on a VM snapshot. %s is not a " \
    "VM snapshot.\n"
UUID_INVALID = "The uuid you supplied was invalid.\ntype: %s\nuuid: %s\n"

NEW_COMMANDS = [
    "network-create", "pif-reconfigure-ip", "pif-reconfigure-ipv6",
    "pif-set-primary-address-type", "pif-introduce", "vlan-create", "pool-vlan-create",
    "bond-create", "bond-set-mode", "vif-create", "vif-move", "vif-configure-ipv4",
    "vif-configure-ipv6", "vm-vif-list", "host-management-reconfigure",
    "host-management-disable", "pool-management-reconfigure", "vm-checkpoint",
    "snapshot-uninstall", "snapshot-disk-list", "snapshot-clone", "snapshot-copy",
    "snapshot-reset-powerstate", "snapshot-revert", "snapshot-destroy", "template-uninstall",
    "host-get-vms-which-prevent-evacuation", "tunnel-create", "tunnel-destroy", "vlan-destroy"]


def fails(host, *args, **kw):
    code, out, err = xe(host, *args, **kw)
    assert code == 1, (args, out, err)
    assert out == "", (args, out)
    return err


def vm_with_disk(host, name):
    with host.session() as s:
        vm = s("VM.get_uuid", s("VM.create", vm_record(name_label=name)))
    ok(host, "vm-disk-add", "uuid=" + vm, "disk-size=1MiB", "device=0")
    return vm


def default_sr(host):
    pool = ok(host, "pool-list", "--minimal").strip()
    return ok(host, "pool-param-get", "uuid=" + pool, "param-name=default-SR").strip()


def golden_record(pairs):
    """A record as xe prints it (xe-cli.md 2.1)."""
    w = 4 + max(len(k) for k, _ in pairs)
    lines = [(k.ljust(w) if i == 0 else k.rjust(w)) + ": " + v for i, (k, v) in enumerate(pairs)]
    return "\n".join(lines) + "\n\n\n"


def test_snapshot_and_template_lists_print_xcps_columns(host):
    vm = vm_with_disk(host, "listed")
    snap = ok(host, "vm-snapshot", "uuid=" + vm, "new-name-label=listed-snap").strip()
    desc = ok(host, "vm-param-get", "uuid=" + snap, "param-name=name-description").rstrip("\n")
    assert ok(host, "snapshot-list", "uuid=" + snap) == golden_record(
        [("uuid ( RO)", snap), ("name-label ( RW)", "listed-snap"),
         ("name-description ( RW)", desc), ("is-vmss-snapshot ( RO)", "false")])
    # Snapshots are templates, but template-list and vm-list leave them out.
    assert ok(host, "template-list", "uuid=" + snap, "--minimal") == "\n"
    assert ok(host, "vm-list", "uuid=" + snap, "--minimal") == "\n"
    tmpl = ok(host, "template-list", "--minimal").strip().split(",")[0]
    name = ok(host, "template-param-get", "uuid=" + tmpl, "param-name=name-label").rstrip("\n")
    desc = ok(host, "template-param-get", "uuid=" + tmpl,
              "param-name=name-description").rstrip("\n")
    assert ok(host, "template-list", "uuid=" + tmpl) == golden_record(
        [("uuid ( RO)", tmpl), ("name-label ( RW)", name), ("name-description ( RW)", desc)])
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")
    assert ok(host, "snapshot-list", "uuid=" + snap, "--minimal") == "\n"


def test_snapshot_lookup_errors(host):
    vm = vm_with_disk(host, "not-a-snap")
    for cmd in ("snapshot-disk-list", "snapshot-revert", "snapshot-destroy",
                "snapshot-uninstall"):
        assert fails(host, cmd, "uuid=" + vm) == NOT_SNAPSHOT % vm
        assert fails(host, cmd, "snapshot-uuid=" + vm) == NOT_SNAPSHOT % vm
        assert fails(host, cmd) == "Error: Required parameter not found: snapshot-uuid or uuid.\n"
        assert fails(host, cmd, "uuid=nope") == UUID_INVALID % ("VM", "nope")
    assert fails(host, "snapshot-clone", "uuid=" + vm, "new-name-label=x") == NOT_SNAPSHOT % vm
    assert fails(host, "snapshot-clone", "uuid=" + vm) == \
        "Required parameter not found: new-name-label\nFor usage run: 'xe help'\n"
    # snapshot-copy looks the SR up first.
    assert fails(host, "snapshot-copy", "uuid=nope", "new-name-label=x", "sr-uuid=nosr") == \
        UUID_INVALID % ("SR", "nosr")
    # --force is checked before anything else.
    assert fails(host, "snapshot-reset-powerstate", "uuid=" + vm) == \
        "Error: This operation is dangerous and may cause data loss. This operation must be " \
        "forced (use --force).\n"
    assert fails(host, "snapshot-reset-powerstate", "uuid=" + vm, "--force") == NOT_SNAPSHOT % vm
    assert fails(host, "template-uninstall", "template-uuid=" + vm) == \
        "Error: This operation can only be performed on a VM template. %s is not a VM " \
        "template.\n" % vm
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_snapshot_commands(host):
    vm = vm_with_disk(host, "snapper")
    snap = ok(host, "vm-snapshot", "uuid=" + vm, "new-name-label=snap1").strip()
    assert re.fullmatch(UUID, snap)
    # snapshot-disk-list: the disks of the snapshot, as vm-disk-list prints.
    out = ok(host, "snapshot-disk-list", "uuid=" + snap)
    assert out == ok(host, "snapshot-disk-list", "snapshot-uuid=" + snap)
    assert out.startswith("Disk 0 VBD:\n") and "\nDisk 0 VDI:\n" in out
    assert "\n    vm-name-label ( RO): snap1\n" in out
    vdi = ok(host, "snapshot-disk-list", "uuid=" + snap, "vdi-params=uuid", "vbd-params=uuid",
             "--minimal").strip().split(",")[1]
    assert ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=is-a-snapshot") == "true\n"
    # snapshot-clone / -copy: a new VM record of the snapshot, its uuid
    # printed, the description set when given.
    clone = ok(host, "snapshot-clone", "uuid=" + snap, "new-name-label=from-snap",
               "new-name-description=cloned").strip()
    assert re.fullmatch(UUID, clone)
    # (vm-param-get reads templates and snapshots too, as in XCP.)
    assert ok(host, "vm-param-get", "uuid=" + clone, "param-name=name-label") == "from-snap\n"
    assert ok(host, "vm-param-get", "uuid=" + snap, "param-name=is-a-snapshot") == "true\n"
    assert ok(host, "vm-param-get", "uuid=" + clone, "param-name=name-description") == \
        "cloned\n"
    assert ok(host, "vm-param-get", "uuid=" + clone, "param-name=is-a-snapshot") == "false\n"
    copy = ok(host, "snapshot-copy", "snapshot-uuid=" + snap, "new-name-label=copied",
              "sr-uuid=" + default_sr(host), "--minimal").strip()
    assert re.fullmatch(UUID, copy) and copy not in (clone, snap)
    # snapshot-revert and snapshot-reset-powerstate print nothing.
    assert ok(host, "snapshot-revert", "snapshot-uuid=" + snap) == ""
    code, out, err = xe(host, "snapshot-reset-powerstate", "uuid=" + snap, "--force")
    if code != 0:
        # The API's refusal, printed: the same as a client calling it gets.
        with host.session() as s:
            api = s.error("VM.power_state_reset", s("VM.get_by_uuid", snap))
        assert (code, out) == (1, "") and err.startswith("Error code: %s\n" % api[0]), err
    else:
        assert (out, err) == ("", "")
    # snapshot-uninstall: the prompt, then the snapshot and its disks go.
    code, out, err = xe(host, "snapshot-uninstall", "uuid=" + snap, stdin="no\n")
    assert (code, err) == (0, "")
    assert out.startswith("The following items are about to be destroyed\n"
                          "VM : %s (snap1)\n" % snap)
    assert out.endswith("Type 'yes' to continue\nAborted (you typed: 'no')\n")
    assert ok(host, "snapshot-list", "uuid=" + snap, "--minimal") == snap + "\n"
    out = ok(host, "snapshot-uninstall", "uuid=" + snap, "--force")
    assert out.startswith("The following items are about to be destroyed\n"
                          "VM : %s (snap1)\n" % snap) and out.endswith("All objects destroyed\n")
    assert ok(host, "snapshot-list", "uuid=" + snap, "--minimal") == "\n"
    # snapshot-destroy keeps the disks.
    snap2 = ok(host, "vm-snapshot", "uuid=" + vm, "new-name-label=snap2").strip()
    vdis = ok(host, "snapshot-disk-list", "uuid=" + snap2, "vdi-params=uuid", "vbd-params=uuid",
              "--minimal").strip().split(",")[1]
    assert ok(host, "snapshot-destroy", "uuid=" + snap2) == ""
    assert ok(host, "snapshot-list", "uuid=" + snap2, "--minimal") == "\n"
    assert ok(host, "vdi-list", "uuid=" + vdis, "--minimal") == vdis + "\n"
    ok(host, "vdi-destroy", "uuid=" + vdis)
    for other in (clone, copy):
        if ok(host, "vm-param-get", "uuid=" + other, "param-name=is-a-template") == "true\n":
            out = ok(host, "template-uninstall", "template-uuid=" + other, "--force")
            assert out.startswith("The following items are about to be destroyed\nVM : %s ("
                                  % other) and out.endswith("All objects destroyed\n")
        else:
            ok(host, "vm-uninstall", "uuid=" + other, "--force")
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_vm_checkpoint(host):
    vm = vm_with_disk(host, "cp")
    assert fails(host, "vm-checkpoint", "uuid=" + vm) == \
        "Required parameter not found: new-name-label\nFor usage run: 'xe help'\n"
    ok(host, "vm-start", "uuid=" + vm)
    code, out, err = xe(host, "vm-checkpoint", "uuid=" + vm, "new-name-label=cp1")
    assert code == 0, err
    cp = out.strip()
    assert re.fullmatch(UUID + "\n", out), out
    assert ok(host, "snapshot-list", "uuid=" + cp, "--minimal") == cp + "\n"
    assert ok(host, "vm-param-get", "uuid=" + cp, "param-name=power-state") == \
        "suspended\n"
    ok(host, "snapshot-uninstall", "uuid=" + cp, "--force")
    ok(host, "vm-shutdown", "uuid=" + vm, "--force")
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_host_get_vms_which_prevent_evacuation(host):
    h = ok(host, "host-list", "--minimal").strip()
    assert fails(host, "host-get-vms-which-prevent-evacuation", "uuid=nohost") == \
        UUID_INVALID % ("host", "nohost")
    # One host and no VM running: nothing prevents it (test_host_messages.py
    # has a VM that does).
    code, out, err = xe(host, "host-get-vms-which-prevent-evacuation", "uuid=" + h)
    assert (code, out, err) == (0, "", "")


def test_help_lists_and_describes_the_new_commands(host):
    names = ok(host, "help", "--minimal", "--all").strip().split(",")
    for c in NEW_COMMANDS:
        assert c in names, c
    # pif-db-forget is hidden, as in XCP; the rest of the table is sorted,
    # with no name twice.
    assert "pif-db-forget" not in names
    assert names == sorted(names) and len(set(names)) == len(names)
    standard = ok(host, "help", "--minimal").strip().split(",")
    for c in ("vm-vif-list", "vm-checkpoint", "snapshot-uninstall", "snapshot-clone"):
        assert c in standard, c
    assert "vlan-create" not in standard
    assert ok(host, "help", "vlan-create") == (
        "command name            : vlan-create\n"
        "        reqd params     : pif-uuid, vlan, network-uuid\n"
        "        optional params : \n"
        "        description     : Create a new VLAN on a host.\n\n")
    out = ok(host, "help", "bond-create")
    assert out.split("\n")[1:3] == ["        reqd params     : network-uuid, pif-uuids",
                                    "        optional params : mac, mode, properties:"]
    out = ok(host, "help", "vm-vif-list")
    assert out.split("\n")[2] == "        optional params : <vm-selectors>"
    out = ok(host, "help", "snapshot-uninstall")
    assert out.split("\n")[1:3] == ["        reqd params     : ",
                                    "        optional params : uuid, snapshot-uuid, force"]


def complete(host, *words):
    """What bash completion offers for the words typed after `xe`."""
    script = build_dir().parent / "sdk" / "xe" / "xe-completion.bash"
    if not script.exists():
        script = os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "xe",
                              "xe-completion.bash")
    words = ["xe", *words]
    prog = ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _xe; printf '%%s\\n' \"${COMPREPLY[@]}\""
            % (script, " ".join("'%s'" % w for w in words), len(words) - 1))
    env = dict(os.environ, XE_SOCKET=host.socket_path, HOME="/nonexistent",
               PATH="%s:%s" % (build_dir(), os.environ.get("PATH", "")))
    env.pop("XE_EXTRA_ARGS", None)
    r = subprocess.run(["bash", "-c", prog], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bash_completion_offers_the_new_commands(host):
    assert complete(host, "vlan-cr") == ["vlan-create"]
    assert sorted(complete(host, "snapshot-")) == sorted(
        c for c in ok(host, "help", "--minimal", "--all").strip().split(",")
        if c.startswith("snapshot-"))
    assert "snapshot-uninstall" in complete(host, "snapshot-")
    offered = complete(host, "bond-create", "")
    for p in ("network-uuid=", "pif-uuids=", "mac=", "mode="):
        assert p in offered, (p, offered)
    assert sorted(complete(host, "pif-reconfigure-ip", "")) == sorted(
        ["uuid=", "mode=", "IP=", "netmask=", "gateway=", "DNS="])


GARBAGE = ["", "nope", "a,b,,c", "=x=", "0x", "-", "x" * 5000, "\u00e9\u00ff\u2603"]


def test_bad_values_get_clear_errors(host):
    """Every parameter of every command of this round given nonsense: exit
    status 1 with a message on stderr, nothing half-done on stdout, and xapi
    serving afterwards (the module's fixture checks the sanitizers). Left
    out: the commands that take no object and would act on the host
    (vm-checkpoint and host-management-disable without selectors)."""
    table = {}
    for c in NEW_COMMANDS + ["pif-db-forget"]:
        out = ok(host, "help", c) if c != "pif-db-forget" else \
            "        reqd params     : uuid\n        optional params : \n"
        reqd = re.search(r"reqd params     : (.*)\n", out).group(1)
        opt = re.search(r"optional params : (.*)\n", out).group(1)
        table[c] = ([p for p in reqd.split(", ") if p],
                    [p for p in opt.split(", ") if p and not p.startswith("<")])
    for c, (reqd, opt) in table.items():
        if c in ("vm-checkpoint", "host-management-disable", "vm-vif-list"):
            continue
        for v in GARBAGE:
            args = ["%s=%s" % (p.rstrip(":"), v) for p in reqd]
            args += ["%s=%s" % (p if not p.endswith(":") else p + "k", v)
                     for p in opt if p not in ("force",)]
            code, out, err = xe(host, c, *args)
            assert code == 1, (c, v, out, err)
            assert err and out == "", (c, v, out, err)
    assert re.fullmatch(UUID + "\n", ok(host, "host-list", "--minimal"))
