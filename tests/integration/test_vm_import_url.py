"""VM.import(url, sr, full_restore, force), Async.VM.import and xe vm-import
url=: xapi downloads the XVA from an http URL itself (here a Python
http.server in the test serving an exported archive) and imports it as
PUT /import does; the errors for a missing file, a redirect loop, a server
that is not there, a URL of another scheme and a body that is no XVA are
XCP's."""
import functools
import gzip
import http.server
import re
import threading

import pytest

from test_cli import UUID, xe
from test_cli_export import (destroy_vm_and_disks, expected, guest_content, image_path, s,
                             tmp, vm_with_disk)
from xeniatest import XenAPIError, free_ports, wait_until

MiB = 1024 * 1024
TASK_TIMEOUT = 120


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/vm.xva")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(host, s, vm_with_disk, tmp_path_factory):
    """An http server with vm.xva (the VM exported), vm.xva.gz, junk.xva;
    yields its base URL."""
    root = tmp_path_factory.mktemp("www")
    vm, vdi = vm_with_disk
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm),
                        "filename=" + str(root / "vm.xva"))
    assert code == 0, err
    (root / "vm.xva.gz").write_bytes(gzip.compress((root / "vm.xva").read_bytes()))
    (root / "junk.xva").write_bytes(b"this is not an archive\n" * 100)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=30)


@pytest.fixture(scope="module")
def sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


def objects(s):
    return set(s("VM.get_all")), set(s("VDI.get_all")), set(s("VBD.get_all"))


def check_imported(host, s, vms):
    (new,) = vms
    try:
        assert s("VM.get_name_label", new) == "cli-export"
        assert s("VM.get_power_state", new) == "Halted"
        (vbd,) = s("VM.get_VBDs", new)
        assert guest_content(image_path(host, s, s("VBD.get_VDI", vbd))) == expected(4 * MiB)
    finally:
        destroy_vm_and_disks(s, new)


@pytest.mark.parametrize("name", ["vm.xva", "vm.xva.gz", "redirect"])
def test_vm_import_from_a_url(host, s, sr, served, name):
    check_imported(host, s, s("VM.import", served + "/" + name, sr, False, False))


def test_async_vm_import_gives_the_vms_in_the_task(host, s, sr, served):
    task = s("Async.VM.import", served + "/vm.xva", sr, False, False)
    try:
        wait_until(lambda: s("task.get_status", task) != "pending", TASK_TIMEOUT,
                   what="the import task")
        assert s("task.get_status", task) == "success", s("task.get_error_info", task)
        result = s("task.get_result", task)
        refs = re.findall(r"OpaqueRef:[0-9a-f-]+", result)
        assert len(refs) == 1
        check_imported(host, s, refs)
    finally:
        s("task.destroy", task)


def test_vm_import_full_restore_keeps_the_uuid(host, s, sr, served, vm_with_disk):
    vm, vdi = vm_with_disk
    # the VM itself is there and not older: XCP refuses to replace it
    err = s.error("VM.import", served + "/vm.xva", sr, True, False)
    assert err[0] == "VM_TO_IMPORT_IS_NOT_NEWER_VERSION", err


def error_of(s, *args):
    try:
        s("VM.import", *args)
    except XenAPIError as e:
        return e.details
    raise AssertionError("VM.import succeeded")


def test_vm_import_errors(host, s, sr, served):
    before = objects(s)
    assert error_of(s, served + "/missing.xva", sr, False, False) == \
        ["IMPORT_ERROR", "404 File not found"]
    assert error_of(s, served + "/loop", sr, False, False) == \
        ["IMPORT_ERROR", "Maximum redirect limit reached"]
    (port,) = free_ports(1)
    err = error_of(s, "http://127.0.0.1:%d/vm.xva" % port, sr, False, False)
    assert err[0] == "INTERNAL_ERROR" and "onnect" in err[1], err
    err = error_of(s, "ftp://127.0.0.1/vm.xva", sr, False, False)
    assert err[0] == "INTERNAL_ERROR", err
    err = error_of(s, "not a url", sr, False, False)
    assert err[0] == "INTERNAL_ERROR", err
    err = error_of(s, served + "/junk.xva", sr, False, False)
    assert err[0].startswith("IMPORT_ERROR"), err
    assert error_of(s, served + "/vm.xva", "OpaqueRef:nonesuch", False, False) == \
        ["HANDLE_INVALID", "SR", "OpaqueRef:nonesuch"]
    assert objects(s) == before


def test_xe_vm_import_url(host, s, served):
    code, out, err = xe(host, "vm-import", "url=" + served + "/vm.xva")
    assert code == 0, err
    assert re.fullmatch(UUID, out.strip())
    check_imported(host, s, [s("VM.get_by_uuid", out.strip())])


def test_xe_vm_import_url_and_filename_are_exclusive(host, s, served, tmp):
    code, out, err = xe(host, "vm-import", "url=" + served + "/vm.xva",
                        "filename=" + str(tmp / "x.xva"))
    assert code != 0
    assert "should not both be specified" in err


def test_xe_vm_import_url_error(host, s, served):
    code, out, err = xe(host, "vm-import", "url=" + served + "/missing.xva")
    assert code != 0
    assert "The VM could not be imported" in err and "404 File not found" in err, err
