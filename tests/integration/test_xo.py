"""Xen Orchestra's `xen-api` client (npm, in node/node_modules) against a
fresh host: node/xo-smoke.mjs connects, syncs every object through its
event loop, and follows a VM's creation, renaming and destruction."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "xo-smoke.mjs"
SCRIPT_TIMEOUT_MS = 20000


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if not exe:
        pytest.skip("no node on this machine")
    if not (NODE_DIR / "node_modules" / "xen-api" / "index.mjs").exists():
        pytest.skip("xen-api is not installed in %s (npm ci)" % NODE_DIR)
    return exe


def run_smoke(node, host, url, transport):
    env = dict(os.environ, XO_USER="root", XO_PASSWORD=host.password,
               XO_TIMEOUT_MS=str(SCRIPT_TIMEOUT_MS), NODE_NO_WARNINGS="1")
    try:
        p = subprocess.run([node, str(SCRIPT), url, transport], cwd=NODE_DIR, env=env,
                           capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_MS / 1000 + 20)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("xo-smoke.mjs outlived its own timeout:\n%s" % e.stderr)
    assert p.returncode == 0, "xo-smoke.mjs failed (%d):\n%s\n%s" % (p.returncode, p.stderr,
                                                                    p.stdout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, "no summary from xo-smoke.mjs:\n" + p.stdout
    # The client warns on stderr when a call of its sync or event loop fails.
    for warning in ("_watchEvents", "_refreshCachedRecords", "_sessionOpen"):
        assert warning not in p.stderr, "xen-api warned:\n" + p.stderr
    return json.loads(lines[-1])


@pytest.mark.parametrize("scheme,transport", [
    ("http", "auto"),        # what XO does: JSON-RPC first, XML-RPC if refused
    ("https", "auto"),       # self-signed certificate, allowUnauthorized
    ("http", "json-rpc"),    # no fallback: JSON-RPC must work on its own
    ("http", "xml-rpc"),     # XO's XML-RPC transport on POST /xmlrpc
])
def test_xen_orchestra_client_syncs_and_follows_changes(node, fresh_host, scheme, transport):
    url = fresh_host.https_url if scheme == "https" else fresh_host.url
    summary = run_smoke(node, fresh_host, url, transport)
    with fresh_host.session() as s:
        host_ref = s("host.get_all")[0]
        pool_ref = s("pool.get_all")[0]
        assert summary["host"] == s("host.get_uuid", host_ref)
        assert summary["host_ref"] == host_ref
        assert summary["pool"] == s("pool.get_uuid", pool_ref)
        assert summary["control_domain"] == s("host.get_control_domain", host_ref)
        assert summary["created_vm"] not in s("VM.get_all")  # the script destroyed it
    assert summary["created_other_config"] == {"xo-smoke": "yes"}
    assert summary["api_version"] == "2.21"
    assert {"pool", "host", "VM", "VM_metrics", "host_cpu", "host_metrics"} <= \
        set(summary["types"])
    assert summary["steps"][-1] == "the VM gone (del event)"
