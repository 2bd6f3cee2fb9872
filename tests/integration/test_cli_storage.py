"""The xe CLI, second round: the per-class field tables (names, order,
annotations and derived values as XCP prints them) and the storage
commands (sr-, pbd-, vdi-, vbd-, vm-disk-, vm-cd-, vm-install with an SR,
vm-uninstall with its disks) on a real host with storaged and a file SR;
third round: legacy <map>-<key> filters, filters on message-backed fields,
sr-probe-ext and --progress on storage operations."""

import re

import pytest

from test_cli import BAR_DONE, UUID, host, ok, tasks, xe, xe_bar  # noqa: F401  (the host fixture)

# XCP's vm-param-list keys, in order (records.ml), as far as our model has
# the fields: the first, a deprecated one and the metrics-backed ones.
VM_KEYS_HEAD = ["uuid ( RO)", "name-label ( RW)", "name-description ( RW)",
                "user-version ( RW)", "is-a-template ( RW)", "is-default-template ( RW)",
                "is-a-snapshot ( RO)", "snapshot-of ( RO)", "snapshots ( RO)",
                "snapshot-time ( RO)", "snapshot-info ( RO)", "parent ( RO)",
                "children ( RO)", "is-control-domain ( RO)", "power-state ( RO)",
                "memory-actual ( RO)", "memory-target ( RO)", "memory-overhead ( RO)"]


def keys(out):
    return [l.split(": ")[0].strip() for l in out.split("\n") if l]


def record(out):
    return {l.split(": ", 1)[0].strip(): l.split(": ", 1)[1] for l in out.split("\n") if l}


def new_vm(host, name):
    return ok(host, "vm-install", "template=Other install media", "new-name-label=" + name
              ).strip()


def default_sr(host):
    pool = ok(host, "pool-list", "--minimal").strip()
    return ok(host, "pool-param-get", "uuid=" + pool, "param-name=default-SR").strip()


def test_vm_param_list_follows_xcps_table(host):
    vm = new_vm(host, "fields")
    out = ok(host, "vm-param-list", "uuid=" + vm)
    k = keys(out)
    assert k[:len(VM_KEYS_HEAD)] == VM_KEYS_HEAD
    assert "ha-always-run ( RW) [DEPRECATED]" in k
    assert "allowed-VBD-devices (SRO)" in k and "possible-hosts ( RO)" in k
    # Hidden fields are never listed, but param-get reads them.
    assert not any(x.startswith("NVRAM") or x.startswith("nomigrate") for x in k)
    ok(host, "vm-param-get", "uuid=" + vm, "param-name=NVRAM")
    rec = record(out)
    assert rec["actions-after-crash ( RW)"] in ("Restart", "Destroy", "Preserve",
                                                 "Core dump and destroy", "Rename restart",
                                                 "Core dump and restart")
    assert rec["power-state ( RO)"] == "halted"
    # Expensive fields are computed by param-list: the VBD slots free.
    assert re.fullmatch(r"(\d+; )*\d+", rec["allowed-VBD-devices (SRO)"])
    # The first key is left-aligned, the others right-aligned to it.
    width = out.index(":")
    assert all(l.index(": ") == width for l in out.split("\n") if l)
    # *-list shows expensive fields as such.
    lst = ok(host, "vm-list", "uuid=" + vm, "params=uuid,allowed-VBD-devices")
    assert lst.split("\n")[1] == "    allowed-VBD-devices (SRO): <expensive field>"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_vm_metrics_fields_are_derived(host):
    vm = new_vm(host, "metrics")
    ok(host, "vm-start", "uuid=" + vm)
    rec = record(ok(host, "vm-param-list", "uuid=" + vm))
    assert re.fullmatch(r"\d+", rec["VCPUs-number ( RO)"])
    assert re.fullmatch(r"\d+", rec["memory-actual ( RO)"])
    host_uuid = ok(host, "host-list", "--minimal").strip()
    assert rec["resident-on ( RO)"] == host_uuid
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_host_and_sr_param_lists(host):
    h = ok(host, "host-list", "--minimal").strip()
    k = keys(ok(host, "host-param-list", "uuid=" + h))
    assert k[:5] == ["uuid ( RO)", "name-label ( RW)", "name-description ( RW)",
                     "allowed-operations (SRO)", "current-operations (SRO)"]
    assert "memory-free-computed ( RO)" in k and "uefi-certificates ( RW)" not in k
    sr = default_sr(host)
    out = ok(host, "sr-param-list", "uuid=" + sr)
    assert keys(out) == ["uuid ( RO)", "name-label ( RW)", "name-description ( RW)",
                         "host ( RO)", "allowed-operations (SRO)", "current-operations (SRO)",
                         "VDIs (SRO)", "PBDs (SRO)", "virtual-allocation ( RO)",
                         "physical-utilisation ( RO)", "physical-size ( RO)", "type ( RO)",
                         "content-type ( RO)", "shared ( RW)", "introduced-by ( RO)",
                         "is-tools-sr ( RO)", "other-config (MRW)", "sm-config (MRO)",
                         "blobs ( RO)", "local-cache-enabled ( RO)", "tags (SRW)",
                         "clustered ( RO)"]
    # sr-list's host is the host's name for a local SR.
    name = ok(host, "host-param-get", "uuid=" + h, "param-name=name-label").strip()
    assert record(out)["host ( RO)"] == name


def test_storage_commands(host, tmp_path):
    h = ok(host, "host-list", "--minimal").strip()
    d = tmp_path / "sr"
    d.mkdir()
    code, out, err = xe(host, "sr-create", "name-label=cli-sr", "type=file",
                        "device-config:location=%s" % d)
    assert code == 0, err
    sr = out.strip()
    assert re.fullmatch(UUID, sr)
    assert ok(host, "sr-list", "uuid=" + sr, "params=type", "--minimal") == "file\n"
    pbd = ok(host, "pbd-list", "sr-uuid=" + sr, "--minimal").strip()
    assert ok(host, "pbd-param-get", "uuid=" + pbd, "param-name=host-uuid").strip() == h
    # vdi-create with a size suffix; the VDI type shows capitalised.
    vdi = ok(host, "vdi-create", "sr-uuid=" + sr, "name-label=d1", "virtual-size=4MiB").strip()
    assert ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=virtual-size") == "4194304\n"
    assert ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=type") == "User\n"
    assert ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=sr-name-label") == "cli-sr\n"
    code, _, err = xe(host, "vdi-create", "sr-uuid=" + sr, "name-label=x", "virtual-size=4XB")
    assert code == 1 and err.startswith("Error: Failed to parse field 'virtual-size'")
    code, _, err = xe(host, "vdi-create", "sr-uuid=" + sr, "name-label=x")
    assert err == "Required parameter not found: virtual-size\nFor usage run: 'xe help'\n"
    ok(host, "vdi-resize", "uuid=" + vdi, "disk-size=8MiB")
    assert ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=virtual-size") == "8388608\n"
    snap = ok(host, "vdi-snapshot", "uuid=" + vdi).strip()
    assert ok(host, "vdi-param-get", "uuid=" + snap, "param-name=is-a-snapshot") == "true\n"
    assert ok(host, "vdi-param-get", "uuid=" + snap, "param-name=snapshot-of") == vdi + "\n"
    clone = ok(host, "vdi-clone", "uuid=" + vdi, "new-name-label=c1").strip()
    assert ok(host, "vdi-param-get", "uuid=" + clone, "param-name=name-label") == "c1\n"
    copy = ok(host, "vdi-copy", "uuid=" + vdi, "sr-uuid=" + default_sr(host)).strip()
    assert ok(host, "vdi-param-get", "uuid=" + copy, "param-name=sr-uuid").strip() == \
        default_sr(host)
    code, _, err = xe(host, "vdi-copy", "uuid=" + vdi)
    assert code == 1 and "Exactly one of sr-uuid or into-vdi-uuid" in err
    # vbd-create on a VM; an empty Disk is refused.
    vm = new_vm(host, "vbd-vm")
    vbd = ok(host, "vbd-create", "vm-uuid=" + vm, "vdi-uuid=" + clone, "device=3",
             "mode=RO").strip()
    rec = record(ok(host, "vbd-param-list", "uuid=" + vbd))
    assert rec["vdi-name-label ( RO)"] == "c1" and rec["mode ( RW)"] == "RO"
    assert rec["vm-name-label ( RO)"] == "vbd-vm"
    code, _, err = xe(host, "vbd-create", "vm-uuid=" + vm, "device=4")
    assert code == 1 and err == "Error: Empty VBDs can only be made for type=CD\n"
    ok(host, "vbd-destroy", "uuid=" + vbd)
    for v in (snap, clone, copy, vdi):
        ok(host, "vdi-destroy", "uuid=" + v)
    # sr-probe prints the XML of what is there; forget and introduce it back.
    probe = ok(host, "sr-probe", "type=file", "device-config:location=%s" % d)
    assert "<" in probe
    ok(host, "pbd-unplug", "uuid=" + pbd)
    ok(host, "sr-forget", "uuid=" + sr)
    assert ok(host, "sr-list", "uuid=" + sr, "--minimal") == "\n"
    assert ok(host, "sr-introduce", "uuid=" + sr, "name-label=back", "type=file",
              "content-type=user").strip() == sr
    pbd = ok(host, "pbd-create", "host-uuid=" + h, "sr-uuid=" + sr,
             "device-config:location=%s" % d).strip()
    ok(host, "pbd-plug", "uuid=" + pbd)
    ok(host, "sr-scan", "uuid=" + sr)
    ok(host, "pbd-unplug", "uuid=" + pbd)
    ok(host, "sr-destroy", "uuid=" + sr)
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_vm_disks_and_uninstall_destroys_owned_disks(host):
    vm = new_vm(host, "disks")
    ok(host, "vm-disk-add", "uuid=" + vm, "disk-size=2MiB", "device=1")
    out = ok(host, "vm-disk-list", "uuid=" + vm)
    assert "Disk 0 VBD:\n" in out and "Disk 0 VDI:\n" in out
    assert "Created by xe" in out
    vdi = ok(host, "vdi-list", "name-label=Created by xe", "--minimal").strip()
    assert re.fullmatch(UUID, vdi)
    out = ok(host, "vm-uninstall", "uuid=" + vm, stdin="yes\n")
    assert "VDI: %s (Created by xe)" % vdi in out and "All objects destroyed" in out
    assert ok(host, "vdi-list", "uuid=" + vdi, "--minimal") == "\n"


def test_vm_disk_remove(host):
    vm = new_vm(host, "disk-rm")
    ok(host, "vm-disk-add", "uuid=" + vm, "disk-size=1MiB", "device=2")
    assert "userdevice ( RW): 2\n" in ok(host, "vm-disk-list", "uuid=" + vm)
    ok(host, "vm-disk-remove", "uuid=" + vm, "device=2")
    assert "userdevice ( RW): 2\n" not in ok(host, "vm-disk-list", "uuid=" + vm)
    code, _, err = xe(host, "vm-disk-remove", "uuid=" + vm, "device=2")
    assert code == 1 and err == "Error: Disk not found\n"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_vm_cd_commands(host):
    vm = new_vm(host, "cds")
    code, _, err = xe(host, "vm-cd-insert", "uuid=" + vm, "cd-name=no-such.iso")
    assert code == 1 and err == "Error: CD no-such.iso not found\n"
    code, _, err = xe(host, "vm-cd-eject", "uuid=" + vm)
    cds = ok(host, "vbd-list", "vm-uuid=" + vm, "type=CD", "--minimal").strip()
    if not cds:
        assert code == 1 and err == "Error: No CDs found\n"
        ok(host, "vbd-create", "vm-uuid=" + vm, "device=3", "type=CD", "mode=RO")
    out = ok(host, "vm-cd-list", "uuid=" + vm)
    assert "CD 0 VBD:\n" in out and "CD 0 VDI:" not in out
    assert "empty ( RO): true" in out
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_vm_install_on_an_sr(host):
    sr = default_sr(host)
    name = ok(host, "sr-param-get", "uuid=" + sr, "param-name=name-label").strip()
    vm = ok(host, "vm-install", "template=Other install media", "new-name-label=on-sr",
            "sr-uuid=" + sr, "sr-name-label=" + name).strip()
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=suspend-SR-uuid") == sr + "\n"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")
    code, _, err = xe(host, "vm-install", "template=Other install media", "new-name-label=x",
                      "sr-name-label=no such sr")
    assert code == 1 and err == "Error: No SR with that name-label found\n"


def test_legacy_map_filter_form(host):
    vm = new_vm(host, "legacy")
    ok(host, "vm-param-set", "uuid=" + vm, "other-config:colour=blue", "other-config:a-b=c")
    # <map>-<key>=v is <map>:<key>=v; the key may hold hyphens itself.
    assert ok(host, "vm-list", "other-config-colour=blue", "--minimal") == vm + "\n"
    assert ok(host, "vm-list", "other-config-colour=red", "--minimal") == "\n"
    assert ok(host, "vm-list", "other-config-a-b=c", "--minimal") == vm + "\n"
    # Selectors take the same form.
    code, _, err = xe(host, "vm-shutdown", "other-config-colour=red")
    assert code == 1 and err == "Error: No matching VMs found\n"
    # A set takes only <set>-contains; a name no field starts is unknown.
    code, _, err = xe(host, "vm-list", "tags-colour=blue")
    assert code == 1 and err.startswith("Error: Invalid syntax for set filtering")
    ok(host, "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=legacy-tag")
    assert ok(host, "vm-list", "tags-contains=legacy-tag", "--minimal") == vm + "\n"
    code, _, err = xe(host, "vm-list", "nosuch-colour=blue")
    assert code == 1 and err == "Error: Unknown field 'nosuch-colour'\n"
    # param-set takes the legacy form too.
    ok(host, "vm-param-set", "uuid=" + vm, "other-config-colour=green")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=other-config",
              "param-key=colour") == "green\n"
    code, _, err = xe(host, "vm-param-set", "uuid=" + vm, "nosuch-colour=blue")
    assert code == 1 and err == "Error: Unknown field 'nosuch-colour'\n"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_filters_on_message_backed_fields(host):
    hostuuid = ok(host, "host-list", "--minimal").strip()
    free = ok(host, "host-param-get", "uuid=" + hostuuid,
              "param-name=memory-free-computed").strip()
    assert re.fullmatch(r"\d+", free)
    # The message is called for the filter, as param-get calls it.
    assert ok(host, "host-list", "memory-free-computed=" + free, "--minimal") == \
        hostuuid + "\n"
    assert ok(host, "host-list", "memory-free-computed=1" + free, "--minimal") == "\n"
    vm = new_vm(host, "msgfilter")
    slots = ok(host, "vm-param-get", "uuid=" + vm, "param-name=allowed-VBD-devices").strip()
    assert vm in ok(host, "vm-list", "allowed-VBD-devices=" + slots, "--minimal")
    # In a selector too: nothing matches, nothing is done.
    code, _, err = xe(host, "vm-start", "uuid=" + vm, "allowed-VBD-devices=none")
    assert code == 1 and err == "Error: No matching VMs found\n"
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "halted\n"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_sr_probe_ext(host, tmp_path):
    sr = ok(host, "sr-list", "name-label=Local storage", "--minimal").strip()
    config = ok(host, "pbd-list", "sr-uuid=" + sr, "params=device-config", "--minimal").strip()
    location = config.split("location: ", 1)[1].split("; ")[0]
    out = ok(host, "sr-probe-ext", "type=file", "device-config:location=" + location)
    lines = out.split("\n")
    assert lines[0] == "The following SRs were found:"
    assert lines[1] == "SR 0:"
    rec = record("\n".join(lines[2:lines.index("SR 0 configuration:")]))
    assert rec["uuid"] == sr
    assert rec["name-label"] == "Local storage"
    assert rec["health"] == "healthy" and rec["clustered"] == "false"
    assert int(rec["total-space"]) >= int(rec["free-space"]) >= 0
    conf = lines[lines.index("SR 0 configuration:") + 1]
    assert re.fullmatch(r"location +: " + re.escape(location), conf)
    # Nothing there: nothing printed, success.
    assert ok(host, "sr-probe-ext", "type=file", "device-config:location=" + str(tmp_path)) == ""
    code, _, err = xe(host, "sr-probe-ext", "device-config:location=/")
    assert code == 1 and err.startswith("Required parameter not found: type")


def test_progress_on_storage_operations(host):
    sr = default_sr(host)
    before = tasks(host)
    vdi = ok(host, "vdi-create", "sr-uuid=" + sr, "name-label=prog-src",
             "virtual-size=2MiB").strip()
    code, out, err = xe_bar(host, "vdi-copy", "uuid=" + vdi, "sr-uuid=" + sr, "--progress")
    assert code == 0 and BAR_DONE.search(err), repr(err)
    copy = out.strip()
    assert re.fullmatch(UUID, copy)
    assert ok(host, "vdi-param-get", "uuid=" + copy, "param-name=virtual-size") == "2097152\n"
    code, _, err = xe_bar(host, "sr-scan", "uuid=" + sr, "--progress")
    assert code == 0 and BAR_DONE.search(err), repr(err)
    # A failing long operation prints its error after the bar.
    code, _, err = xe_bar(host, "vdi-copy", "uuid=" + vdi, "into-vdi-uuid=" + vdi,
                          "--progress")
    assert code == 1 and err.startswith("\r"), repr(err)
    assert tasks(host) == before
    for v in (copy, vdi):
        ok(host, "vdi-destroy", "uuid=" + v)
