"""VDI.copy as a task: Async.VDI.copy reports storaged's progress in its
task and ends with the new VDI; task.cancel stops a copy under way, the task
ends cancelled with TASK_CANCELLED, and the SR keeps no trace of it."""
import shutil
import subprocess

import pytest

from xeniatest import wait_until

GiB = 1024 ** 3


@pytest.fixture(scope="module")
def s(host):
    with host.session() as session:
        yield session


@pytest.fixture(scope="module")
def full_vdi(host, s):
    """A 2 GiB VDI of the default SR with every byte written, so that a copy
    takes a while."""
    if not shutil.which("qemu-io"):
        pytest.skip("qemu-io is not installed")
    sr = s("pool.get_default_SR", s("pool.get_all")[0])
    vdi = s("VDI.create", {"SR": sr, "virtual_size": str(2 * GiB), "type": "user",
                           "sharable": False, "read_only": False, "other_config": {},
                           "name_label": "full"})
    path = host.state_dir / "sr-local" / s("VDI.get_location", vdi)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1G",
                    "-c", "write -P 0x5a 1G 1G", str(path)],
                   check=True, capture_output=True, timeout=300)
    yield sr, vdi
    s("VDI.destroy", vdi)


def finished(s, task):
    return s("task.get_status", task) != "pending"


def test_async_copy_ends_with_the_new_vdi(s, full_vdi):
    sr, vdi = full_vdi
    task = s("Async.VDI.copy", vdi, sr)
    try:
        wait_until(lambda: finished(s, task), 300, interval=0.2, what="the copy")
        rec = s("task.get_record", task)
        assert rec["status"] == "success", rec["error_info"]
        assert float(rec["progress"]) == 1.0 and rec["allowed_operations"] == []
        copy = rec["result"].split("<value>")[-1].split("</value>")[0]
        assert s("VDI.get_virtual_size", copy) == str(2 * GiB)
        s("VDI.destroy", copy)
    finally:
        s("task.destroy", task)


def test_cancel_stops_a_copy_and_leaves_nothing(s, full_vdi):
    sr, vdi = full_vdi
    before = set(s("SR.get_VDIs", sr))
    task = s("Async.VDI.copy", vdi, sr)
    try:
        wait_until(lambda: "cancel" in s("task.get_allowed_operations", task) or
                   finished(s, task), 60, interval=0.02, what="the copy to start")
        s("task.cancel", task)
        wait_until(lambda: finished(s, task), 120, interval=0.1, what="the cancel")
        rec = s("task.get_record", task)
        assert rec["status"] == "cancelled", rec
        assert rec["error_info"][0] == "TASK_CANCELLED"
        s("SR.scan", sr)
        assert set(s("SR.get_VDIs", sr)) == before
    finally:
        s("task.destroy", task)
