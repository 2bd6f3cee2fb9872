"""Fixtures of the system tests: one image and one booted host for the
whole session (a boot under emulation takes a minute or more), and the
timing of each phase (image build, boot, each test file) printed at the
end. A failed run keeps its consoles and logs and says where."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import xenhost  # noqa: E402

_timings = {}
_module_seconds = {}
_failed = []


def pytest_collection_modifyitems(config, items):
    reason = xenhost.why_impossible()
    if reason:
        skip = pytest.mark.skip(reason="system tests impossible here: " + reason)
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def image():
    img = xenhost.Image()
    error = None
    try:
        img.build()
    except xenhost.ImageError as e:
        error = str(e)
    if error:
        _failed.append("image")
        img.remove()
        pytest.fail(error, pytrace=False)
    _timings["image build (mkimage, rootfs cached)"] = img.seconds
    yield img
    keep = bool(_failed)
    # The big files go in any case; consoles and logs stay after a failure.
    shutil.rmtree(img.image_dir, ignore_errors=True)
    for qcow in img.dir.glob("*/root.qcow2"):
        qcow.unlink()
    if keep:
        print("\n[system] logs of the failed run kept in %s" % img.dir)
    else:
        img.remove()


@pytest.fixture(scope="session")
def host(image):
    # Two spare disks (vdb, vdc) for the ext and lvm SRs of test_storage_xen.
    h = xenhost.Host(image, "host1", extra_disks=[xenhost.SPARE_DISK_MB] * 2)
    try:
        h.boot()
        _timings["boot of host1 to a ready API"] = h.wait_api()
        h.wait_ssh()
        yield h
    finally:
        if _failed:
            _save_dom0_logs(h)
        h.stop()
        for i in range(len(h.extra_disks)):
            h.extra_disk(i).unlink(missing_ok=True)


def _save_dom0_logs(h):
    if not h.alive():
        return
    r = h.run("journalctl -b --no-pager -o short-monotonic | tail -n 2000; "
              "tail -n +1 /var/log/xen/console/*.log 2>/dev/null", timeout=60, check=False)
    (h.dir / "dom0-journal.txt").write_text(r.stdout)


@pytest.fixture(scope="session")
def api(host):
    s = host.session()
    yield s
    s.logout()


def pytest_runtest_logreport(report):
    mod = report.nodeid.split("::")[0]
    _module_seconds[mod] = _module_seconds.get(mod, 0.0) + report.duration
    if report.failed:
        _failed.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if not _timings and not _module_seconds:
        return
    tr = terminalreporter
    tr.section("system test timings")
    for what, secs in _timings.items():
        tr.write_line("%-45s %6.0f s" % (what, secs))
    for mod, secs in sorted(_module_seconds.items()):
        # The first test file's figure includes the image build and the boot.
        tr.write_line("%-45s %6.0f s" % (mod, secs))
