"""The SR, VDI and VBD messages that storaged's drivers cannot carry out,
answered as XCP answers them for SRs whose driver lacks the capability
(changed block tracking), the checks XCP makes before HA and
database replication may use an SR, SR data sources (none: Xenia keeps
no RRDs), VDI.get_nbd_info, VBD.assert_attachable with xapi's attach
checks, and the xe commands for them (issue 6)."""
import os
import subprocess

import pytest

from test_storaged import MIB, check_consistent, file_sr, reads, vdi, write
from test_storaged import sd, tmp  # noqa: F401  (storaged fixtures)
from xeniatest import Host, XenAPIError, build_dir, scratch_sr, vm_record

MiB = 1024 ** 2
XE_TIMEOUT = 60


@pytest.fixture(scope="module")
def shost():
    h = Host().start()
    yield h
    h.close()
    assert not h.sanitizer_reports()


@pytest.fixture
def s(shost):
    with shost.session() as session:
        yield session


@pytest.fixture
def sr(s):
    with scratch_sr(s, "msgs") as (ref, _):
        yield ref


@pytest.fixture
def vms(s):
    made = []

    def make(name):
        made.append(s("VM.create", vm_record(name_label=name)))
        return made[-1]
    yield make
    for ref in made:
        try:
            if s("VM.get_power_state", ref) != "Halted":
                s("VM.hard_shutdown", ref)
            for vbd in s("VM.get_VBDs", ref):
                s("VBD.destroy", vbd)
            s("VM.destroy", ref)
        except XenAPIError:
            pass


def new_vdi(s, sr, name="disk", read_only=False, sharable=False):
    return s("VDI.create", {"SR": sr, "virtual_size": str(8 * MiB), "type": "user",
                            "sharable": sharable, "read_only": read_only, "other_config": {},
                            "name_label": name, "name_description": ""})


def new_vbd(s, vm, vdi, mode="RW", kind="Disk"):
    return s("VBD.create", {"VM": vm, "VDI": vdi or "OpaqueRef:NULL",
                            "userdevice": "autodetect", "bootable": False, "mode": mode,
                            "type": kind, "empty": vdi is None, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})


def xe(shost, *args):
    env = dict(os.environ, XE_SOCKET=shost.socket_path, HOME="/nonexistent")
    env.pop("XE_EXTRA_ARGS", None)
    r = subprocess.run([str(build_dir() / "xe"), *args], env=env, capture_output=True,
                       text=True, timeout=XE_TIMEOUT)
    return r.returncode, r.stdout, r.stderr


def sm(s, kind):
    return [r for r in s("SM.get_all_records").values() if r["type"] == kind][0]


# ---- changed block tracking ---------------------------------------------------------


def test_cbt_is_not_supported_by_file_srs(s, sr):
    assert "VDI_CONFIG_CBT" not in sm(s, "file")["capabilities"]
    vdi = new_vdi(s, sr)
    for msg in ("VDI.enable_cbt", "VDI.disable_cbt", "VDI.data_destroy"):
        assert s.error(msg, vdi) == ["SR_OPERATION_NOT_SUPPORTED", sr], msg
    other = new_vdi(s, sr, "other")
    assert s.error("VDI.list_changed_blocks", vdi, other) == ["SR_OPERATION_NOT_SUPPORTED", sr]
    assert s("VDI.get_cbt_enabled", vdi) is False
    assert s.error("VDI.enable_cbt", "OpaqueRef:nope")[0] == "HANDLE_INVALID"
    assert s.error("VDI.list_changed_blocks", "OpaqueRef:nope", vdi)[0] == "HANDLE_INVALID"
    # the ISO library's driver has no CBT either
    iso = [r for r, rec in s("SR.get_all_records").items() if rec["type"] == "iso"][0]
    for v in s("SR.get_VDIs", iso)[:1]:
        assert s.error("VDI.enable_cbt", v) == ["SR_OPERATION_NOT_SUPPORTED", iso]


def test_cbt_commands(shost, s, sr):
    vdi = s("VDI.get_uuid", new_vdi(s, sr))
    refused = ("The SR backend does not support the operation (check the SR's allowed "
               "operations)\nsr: %s (msgs)\n" % s("SR.get_uuid", sr))
    for cmd in ("vdi-enable-cbt", "vdi-disable-cbt", "vdi-data-destroy"):
        assert xe(shost, cmd, "uuid=" + vdi) == (1, "", refused), cmd
    assert xe(shost, "vdi-list-changed-blocks", "vdi-from-uuid=" + vdi,
              "vdi-to-uuid=" + vdi) == (1, "", refused)
    code, out, err = xe(shost, "vdi-enable-cbt", "uuid=nope")
    assert code == 1 and "uuid you supplied was invalid" in err


# ---- HA statefile and database replication --------------------------------------------


def test_ha_statefile_and_database_replication_checks(s, sr):
    for msg in ("SR.assert_can_host_ha_statefile", "SR.assert_supports_database_replication"):
        # plugged everywhere, but the file driver cannot hold either
        assert s.error(msg, sr) == ["SR_OPERATION_NOT_SUPPORTED", sr], msg
    pbd = s("SR.get_PBDs", sr)[0]
    s("PBD.unplug", pbd)
    try:
        for msg in ("SR.assert_can_host_ha_statefile",
                    "SR.assert_supports_database_replication"):
            assert s.error(msg, sr) == ["SR_HAS_NO_PBDS", sr], msg
    finally:
        s("PBD.plug", pbd)
    assert s.error("SR.assert_can_host_ha_statefile", "OpaqueRef:nope")[0] == "HANDLE_INVALID"
    # replicating the database itself is not done
    assert s.error("SR.enable_database_replication", sr) == [
        "MESSAGE_NOT_IMPLEMENTED", "SR.enable_database_replication"]


# ---- SR data sources ------------------------------------------------------------------


def test_an_sr_has_no_data_sources(shost, s, sr):
    uuid = s("SR.get_uuid", sr)
    assert s("SR.get_data_sources", sr) == []
    err = s.error("SR.query_data_source", sr, "io_throughput_read")
    assert err[0] == "INTERNAL_ERROR" and uuid in err[1]
    assert s.error("SR.record_data_source", sr, "io_throughput_read") == err
    assert s("SR.forget_data_source_archives", sr, "io_throughput_read") == ""
    assert s.error("SR.get_data_sources", "OpaqueRef:nope")[0] == "HANDLE_INVALID"
    assert xe(shost, "sr-data-source-list", "uuid=" + uuid) == (0, "", "")
    assert xe(shost, "sr-data-source-forget", "uuid=" + uuid, "data-source=x") == (0, "", "")
    missing = ("The server failed to handle your request, due to an internal error. The given "
               "message may give details useful for debugging the problem.\nmessage: "
               "Rrd_interface.Rrdd_error(Datasource_missing(\"SR: %s\"))\n" % uuid)
    for cmd in ("sr-data-source-query", "sr-data-source-record"):
        assert xe(shost, cmd, "uuid=" + uuid, "data-source=x") == (1, "", missing), cmd


# ---- NBD ------------------------------------------------------------------------------


def test_nbd_info_is_empty_without_an_nbd_network(s, sr):
    vdi = new_vdi(s, sr)
    assert all("nbd" not in p for n in s("network.get_all") for p in s("network.get_purpose", n))
    assert s("VDI.get_nbd_info", vdi) == []


def test_nbd_info_is_refused_where_xcp_would_name_a_server(s, sr):
    vdi = new_vdi(s, sr)
    pif = [p for p, r in s("PIF.get_all_records").items()
           if r["currently_attached"] and r["IP"]][0]
    net = s("PIF.get_network", pif)
    s("network.add_purpose", net, "nbd")
    try:
        assert s.error("VDI.get_nbd_info", vdi)[0] == "NOT_IMPLEMENTED"
        # not where the SR is not plugged: XCP lists no host then
        pbd = s("SR.get_PBDs", sr)[0]
        s("PBD.unplug", pbd)
        assert s("VDI.get_nbd_info", vdi) == []
        s("PBD.plug", pbd)
    finally:
        s("network.remove_purpose", net, "nbd")
    assert s("VDI.get_nbd_info", vdi) == []


# ---- VBD.assert_attachable ------------------------------------------------------------


def test_assert_attachable_checks_sharing_as_xapi(s, sr, vms):
    a, b = vms("a"), vms("b")
    vdi = new_vdi(s, sr)
    va = new_vbd(s, a, vdi)
    vb = new_vbd(s, b, vdi)
    ro_b = new_vbd(s, b, vdi, mode="RO")
    assert s("VBD.assert_attachable", vb) == ""
    s("VM.start", a, False, False)
    assert s("VBD.get_currently_attached", va)
    # someone writes to it: neither a writer nor a reader may join
    assert s.error("VBD.assert_attachable", vb) == ["VDI_IN_USE", vdi]
    assert s.error("VBD.assert_attachable", ro_b) == ["VDI_IN_USE", vdi]
    # the attached VBD itself passes
    assert s("VBD.assert_attachable", va) == ""
    s("VM.hard_shutdown", a)
    assert s("VBD.assert_attachable", vb) == ""
    # a sharable VDI may be written by several
    shared = new_vdi(s, sr, "shared", sharable=True)
    new_vbd(s, a, shared)
    sb = new_vbd(s, b, shared)
    s("VM.start", a, False, False)
    assert s("VBD.assert_attachable", sb) == ""
    s("VM.hard_shutdown", a)


def test_assert_attachable_refuses_writing_a_read_only_vdi(s, sr, vms):
    vm = vms("ro")
    ro = new_vdi(s, sr, "ro", read_only=True)
    assert s.error("VBD.assert_attachable", new_vbd(s, vm, ro)) == ["VDI_READONLY", ro]
    assert s("VBD.assert_attachable", new_vbd(s, vm, ro, mode="RO")) == ""
    # an empty CD drive has nothing to attach
    assert s("VBD.assert_attachable", new_vbd(s, vm, None, mode="RO", kind="CD")) == ""
    assert s.error("VBD.assert_attachable", "OpaqueRef:nope")[0] == "HANDLE_INVALID"


# ---- storaged's vdi_revert killed half-way ---------------------------------------------


@pytest.mark.parametrize("point", ["revert-renamed", "revert-committed"])
def test_a_crash_in_a_revert_leaves_the_sr_consistent(sd, tmp, point):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)
    write(loc / v["location"], 0xa1, 0, MIB)
    snap = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    write(loc / v["location"], 0xa2, 0, MIB)
    sd.restart(env={"STORAGED_FIST": point})
    with pytest.raises((ConnectionError, OSError)):
        sd("vdi_revert", sr_uuid=sr, snapshot_uuid=snap["uuid"])
    sd.wait_dead()
    sd.start()
    vdis = check_consistent(sd, sr, loc)
    # before the commit the VDI is as it was; after it, reverted
    want = 0xa2 if point == "revert-renamed" else 0xa1
    assert reads(loc / vdis[v["uuid"]]["location"], want, 0, MIB)
    assert reads(loc / vdis[snap["uuid"]]["location"], 0xa1, 0, MIB)
    # a revert run again from there completes
    got = sd("vdi_revert", sr_uuid=sr, snapshot_uuid=snap["uuid"])
    assert got["vdi_uuid"] == v["uuid"]
    vdis = check_consistent(sd, sr, loc)
    assert reads(loc / vdis[v["uuid"]]["location"], 0xa1, 0, MIB)
