"""The xe diagnostic-* commands (xe-cli.md 3.20) on a real host: each one
prints what the host really has, in XCP's layout, and follows changes of
state: the timing counters of the API's messages grow with calls, the HTTP
counters with requests, the database's rows with new objects;
diagnostic-vm-status reports why a VM cannot start on the host (the same
check VM.start makes) and diagnostic-vdi-status which VBDs hold a disk and
whether they are attached; host-get-sm-diagnostics what storaged holds
attached and host-get-thread-diagnostics which calls are running."""

import re
import threading

from test_cli import UUID, host, ok, xe  # noqa: F401  (the host fixture)
from xeniatest import vm_record, wait_until

UUID_INVALID = "The uuid you supplied was invalid.\ntype: %s\nuuid: %s\n"
COMMANDS = ["diagnostic-compact", "diagnostic-db-stats", "diagnostic-gc-stats",
            "diagnostic-license-status", "diagnostic-net-stats", "diagnostic-timing-stats",
            "diagnostic-vdi-status", "diagnostic-vm-status", "host-get-sm-diagnostics",
            "host-get-thread-diagnostics"]


def record(text):
    """The key: value pairs of xe's printed records, keys stripped."""
    pairs = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            pairs[k.strip()] = v
    return pairs


def new_vm(host, name, disk=True):
    with host.session() as s:
        vm = s("VM.get_uuid", s("VM.create", vm_record(name_label=name)))
    if disk:
        ok(host, "vm-disk-add", "uuid=" + vm, "disk-size=1MiB", "device=0")
    return vm


def timing_count(host, message):
    out = ok(host, "diagnostic-timing-stats", "counts=true")
    rec = record(out)
    if message not in rec:
        return 0
    m = re.fullmatch(r"\d+\.\d{6} \[sd = \d+\.\d{6}, n=(\d+)\]", rec[message])
    assert m, rec[message]
    return int(m.group(1))


def test_timing_stats_count_every_call_of_a_message(host):
    vm = new_vm(host, "timed", disk=False)
    before = timing_count(host, "VM.get_name_label")
    with host.session() as s:
        ref = s("VM.get_by_uuid", vm)
        for _ in range(3):
            assert s("VM.get_name_label", ref) == "timed"
    assert timing_count(host, "VM.get_name_label") == before + 3
    # Without counts=true, XCP's "<mean> [sd = <sd>]", and the host's keys.
    out = ok(host, "diagnostic-timing-stats")
    rec = record(out)
    assert re.fullmatch(r"\d+\.\d{6} \[sd = \d+\.\d{6}\]", rec["VM.get_name_label"])
    host_uuid = ok(host, "host-list", "--minimal").strip()
    assert rec["host-uuid"] == host_uuid
    assert rec["host-name-label"] == ok(host, "host-param-get", "uuid=" + host_uuid,
                                        "param-name=name-label").strip()
    # Keys come sorted, as XCP sorts them.
    keys = [line.split(": ", 1)[0].strip() for line in out.splitlines() if ": " in line]
    assert keys == sorted(keys)


def net_row(host, *filters):
    out = ok(host, "diagnostic-net-stats", *filters)
    return [[c.strip() for c in line.split(" | ")] for line in out.splitlines() if line]


def test_net_stats_count_requests_per_method_and_uri(host):
    def xmlrpc_posts():
        rows = net_row(host, "method=POST", "uri=/", "params=requests")
        return int(rows[0][0]) if rows else 0
    before = xmlrpc_posts()
    for _ in range(2):
        host.xml("system.listMethods")
    assert xmlrpc_posts() == before + 2
    # Every column by default, right-aligned, and the filters ignore case.
    rows = net_row(host, "method=post")
    assert rows and all(r[0] == "POST" and len(r) == 5 for r in rows)
    by_uri = {r[1]: r for r in rows}
    assert int(by_uri["/"][2]) == before + 2
    # xe's own requests take over their connection, which then closes.
    cli = by_uri["/cli"]
    assert int(cli[2]) >= 1 and cli[3] == cli[2] and cli[4] == "0"
    widths = {len(line) for line in ok(host, "diagnostic-net-stats").splitlines()}
    assert len(widths) == 1
    assert net_row(host, "uri=/no-such-path") == []
    assert net_row(host, "method=post", "uri=/cli", "params=uri,method") == [["POST", "/cli"]]


def db_stats(host):
    out = ok(host, "diagnostic-db-stats").splitlines()
    head = dict(kv.split("=", 1) for kv in out[0][len("DB stats: "):].split(" "))
    tables = {}
    for line in out[1:]:
        m = re.fullmatch(r"DB table (\S+): rows=(\d+) bytes=(\d+)( memory-only)?", line)
        assert m, line
        tables[m.group(1)] = int(m.group(2))
    return head, tables


def test_db_stats_follow_the_database(host):
    head, tables = db_stats(host)
    assert int(head["rows"]) == sum(tables.values())
    assert int(head["file-size"]) > 0 and head["file"].endswith("pool.db")
    assert tables["host"] == 1
    new_vm(host, "counted", disk=False)
    head2, tables2 = db_stats(host)
    assert tables2["VM"] == tables["VM"] + 1
    assert int(head2["generation"]) > int(head["generation"])


def test_gc_stats_report_the_heap_and_compact_counts(host):
    rec = record(ok(host, "diagnostic-gc-stats"))
    for k in ("arena", "uordblks", "fordblks", "keepcost", "vm_size", "vm_resident",
              "vm_data", "compactions"):
        assert re.fullmatch(r"\d+", rec[k]), (k, rec)
    assert int(rec["vm_resident"]) > 0 and int(rec["vm_size"]) >= int(rec["vm_resident"])
    assert ok(host, "diagnostic-compact") == ""
    after = record(ok(host, "diagnostic-gc-stats"))
    assert int(after["compactions"]) == int(rec["compactions"]) + 1


def test_host_selectors_of_the_stats_commands(host):
    host_uuid = ok(host, "host-list", "--minimal").strip()
    assert record(ok(host, "diagnostic-gc-stats", "host=" + host_uuid))["arena"]
    for cmd in ("diagnostic-gc-stats", "diagnostic-compact", "diagnostic-net-stats"):
        code, out, err = xe(host, cmd, "host=no-such-host")
        assert (code, out, err) == (1, "", "Error: No matching hosts found\n"), cmd


def test_vm_status_reports_state_disks_and_where_it_can_boot(host):
    vm = new_vm(host, "diag-vm")
    host_uuid = ok(host, "host-list", "--minimal").strip()
    label = ok(host, "host-param-get", "uuid=" + host_uuid, "param-name=name-label").strip()
    vbd = ok(host, "vbd-list", "vm-uuid=" + vm, "--minimal").strip()
    out = ok(host, "diagnostic-vm-status", "uuid=" + vm)
    parts = out.split("\n\n\n")
    vm_rec = record(parts[0])
    assert vm_rec["uuid ( RO)"] == vm and vm_rec["power-state ( RO)"] == "halted"
    assert vm_rec["name-label ( RW)"] == "diag-vm"
    assert vm_rec["possible-hosts ( RO)"] == host_uuid
    assert parts[1].startswith("Checking to see whether disks are attachable\n")
    vbd_rec = record(parts[1])
    assert vbd_rec["uuid ( RO)"] == vbd and vbd_rec["attachable ( RO)"] == "true"
    assert vbd_rec["userdevice ( RW)"] == "0" and vbd_rec["type ( RW)"] == "Disk"
    assert parts[2].startswith("Checking to see whether VM can boot on each host\n")
    assert record(parts[2]) == {label: "OK"}
    assert parts[3].startswith("VM is not agile because: VM requires access to non-shared SR: ")

    # A VM that wants more CPUs than the host has: the reason VM.start gives.
    with host.session() as s:
        ref = s("VM.get_by_uuid", vm)
        s("VM.set_VCPUs_max", ref, "64")
        s("VM.set_VCPUs_at_startup", ref, "64")
        err = s.error("VM.start", ref, False, False)
        assert err[:2] == ["HOST_NOT_ENOUGH_PCPUS", "64"]
        cpus = err[2]
    out = ok(host, "diagnostic-vm-status", "uuid=" + vm)
    assert record(out.split("\n\n\n")[2]) == {
        label: "Cannot start here [Not enough CPUs (VM needs 64, but host has %s)]" % cpus}
    assert record(out.split("\n\n\n")[0])["possible-hosts ( RO)"] == ""

    # A disabled host says so, then the VM starts and is reported running.
    with host.session() as s:
        s("VM.set_VCPUs_at_startup", ref, "1")
        s("VM.set_VCPUs_max", ref, "1")
    ok(host, "host-disable")
    try:
        out = ok(host, "diagnostic-vm-status", "uuid=" + vm)
        assert record(out.split("\n\n\n")[2]) == {
            label: "Cannot start here [Host disabled (use 'xe host-enable' to re-enable)]"}
    finally:
        ok(host, "host-enable")
    ok(host, "vm-start", "uuid=" + vm)
    out = ok(host, "diagnostic-vm-status", "uuid=" + vm)
    assert record(out.split("\n\n\n")[0])["power-state ( RO)"] == "running"
    assert record(out.split("\n\n\n")[1])["device ( RO)"] == "xvda"
    ok(host, "vm-shutdown", "uuid=" + vm, "--force")


def test_vdi_status_shows_its_vbds_and_their_attachment(host):
    vm = new_vm(host, "diag-vdi")
    vdi = ok(host, "vbd-list", "vm-uuid=" + vm, "params=vdi-uuid", "--minimal").strip()
    vbd = ok(host, "vbd-list", "vm-uuid=" + vm, "--minimal").strip()
    sr = ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=sr-uuid").strip()
    out = ok(host, "diagnostic-vdi-status", "uuid=" + vdi)
    parts = out.split("\n\n\n")
    vdi_rec = record(parts[0])
    assert vdi_rec["uuid ( RO)"] == vdi and vdi_rec["sr-uuid ( RO)"] == sr
    assert vdi_rec["storage-lock ( RO)"] == "false" and vdi_rec["sharable ( RO)"] == "false"
    assert parts[1].startswith("no active VBDs.\ninactive VBDs:\n")
    assert record(parts[1])["uuid ( RO)"] == vbd

    ok(host, "vm-start", "uuid=" + vm)
    parts = ok(host, "diagnostic-vdi-status", "uuid=" + vdi).split("\n\n\n")
    assert parts[1].startswith("active VBDs:\n")
    assert "inactive VBDs:" not in parts[1]
    assert record(parts[1])["device ( RO)"] == "xvda"
    ok(host, "vm-shutdown", "uuid=" + vm, "--force")

    # A disk no VM uses.
    disk = ok(host, "vdi-create", "sr-uuid=" + sr, "name-label=loose", "virtual-size=1MiB").strip()
    parts = ok(host, "diagnostic-vdi-status", "uuid=" + disk).split("\n\n\n")
    assert parts[1].strip() == "no active VBDs."


def test_license_status_table(host):
    host_uuid = ok(host, "host-list", "--minimal").strip()
    hostname = ok(host, "host-param-get", "uuid=" + host_uuid, "param-name=hostname").strip()
    edition = ok(host, "host-param-get", "uuid=" + host_uuid, "param-name=edition").strip()
    lines = ok(host, "diagnostic-license-status").splitlines()
    assert len(lines) == 5 and len({len(line) for line in lines}) == 1
    assert lines[0].split()[:2] == ["Hostname", "UUID"] and lines[0].rstrip().endswith("Days left")
    assert lines[1].split() == ["-"] * 6 and lines[3] == lines[1]
    row = lines[2].split()
    assert row[:2] == [hostname, host_uuid[:8]]
    # No licence: no expiry (the epoch, as XCP shows it) and the features
    # XCP keeps on without one.
    assert row[-3:-1] == [edition, "19700101T00:00:00Z"] and float(row[-1]) < 0
    assert row[2:-3] == ["Live_migration", "AD", "Upd", "Start", "Start"]
    assert lines[4].split()[:2] == ["-", "-"]


def test_errors_and_help(host):
    code, out, err = xe(host, "diagnostic-vm-status", "uuid=nope")
    assert (code, out, err) == (1, "", UUID_INVALID % ("VM", "nope"))
    code, out, err = xe(host, "diagnostic-vdi-status", "uuid=nope")
    assert (code, out, err) == (1, "", UUID_INVALID % ("VDI", "nope"))
    code, out, err = xe(host, "diagnostic-vdi-status")
    assert code == 1 and err.startswith("Required parameter not found: uuid")
    listed = ok(host, "help", "--all", "--minimal").strip().split(",")
    assert set(COMMANDS) <= set(listed)
    # Only diagnostic-vm-status is among the common commands, as in XCP.
    common = set(ok(host, "help", "--minimal").strip().split(","))
    assert [c for c in COMMANDS if c in common] == ["diagnostic-vm-status"]
    assert "optional params : uri, method, params, <host-selectors>" in \
        ok(host, "help", "diagnostic-net-stats")


def test_sm_diagnostics_follow_attached_disks(host):
    vm = new_vm(host, "diag-sm")
    host_uuid = ok(host, "host-list", "--minimal").strip()
    vdi = ok(host, "vbd-list", "vm-uuid=" + vm, "params=vdi-uuid", "--minimal").strip()
    sr = ok(host, "vdi-param-get", "uuid=" + vdi, "param-name=sr-uuid").strip()

    def sm():
        return ok(host, "host-get-sm-diagnostics", "uuid=" + host_uuid).splitlines()
    lines = sm()
    assert lines[0].startswith("Attached SRs: ")
    assert any(line.startswith("SR %s type=" % sr) for line in lines)
    assert not any(vdi in line for line in lines)
    ok(host, "vm-start", "uuid=" + vm)
    assert "  VDI %s attached read-write, active" % vdi in sm()
    ok(host, "vm-shutdown", "uuid=" + vm, "--force")
    assert not any(vdi in line for line in sm())
    assert sm()[-1].startswith("Copy jobs: ")


def test_thread_diagnostics_show_calls_in_flight(host):
    host_uuid = ok(host, "host-list", "--minimal").strip()

    def threads():
        return ok(host, "host-get-thread-diagnostics", "uuid=" + host_uuid).splitlines()

    def wait_for_events():
        with host.session() as s:
            token = s("event.from", ["vm"], "", 0.0)["token"]
            s("event.from", ["vm"], token, 30.0)

    waiter = threading.Thread(target=wait_for_events)
    waiter.start()
    try:
        wait_until(lambda: any(re.fullmatch(r"thread \d+: event\.from for \d+\.\d{6} s", line)
                               for line in threads()), 20, what="event.from in flight")
        lines = threads()
        assert lines[0] == "Threads running API calls: %d" % (len(lines) - 1)
    finally:
        # Any change of a VM ends the wait.
        new_vm(host, "wakes-the-waiter", disk=False)
        waiter.join(60)
    assert not waiter.is_alive()
    wait_until(lambda: not any("event.from" in line for line in threads()), 20,
               what="event.from done")
    code, out, err = xe(host, "host-get-thread-diagnostics", "uuid=nope")
    assert (code, out, err) == (1, "", "Error: No matching hosts found\n")
