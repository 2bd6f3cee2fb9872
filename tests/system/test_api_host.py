"""The host as a XenAPI client sees it from outside QEMU (XML-RPC through
the forwarded port), checked against what Xen says inside dom0. These need
only xapi, whatever backend domaind runs."""

import xmlrpc.client

import pytest

from xenhost import Session, XenAPIError

MiB = 1024 * 1024


def _xl_list_dom0(host):
    """(memory MiB, VCPUs) of domain 0 as `xl list` shows them."""
    lines = host.run("xl list 0").stdout.splitlines()
    fields = lines[1].split()
    assert fields[1] == "0", lines
    return int(fields[2]), int(fields[3])


def test_login_gives_a_session(host, api):
    assert api.ref.startswith("OpaqueRef:")
    assert api("session.get_this_host", api.ref) in api("host.get_all")


def test_a_wrong_password_is_session_authentication_failed(host):
    with pytest.raises(XenAPIError) as e:
        Session(host.url, password="not-the-password")
    assert e.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


def test_one_host_whose_software_version_is_xen_417(host, api):
    hosts = api("host.get_all")
    assert len(hosts) == 1
    sv = api("host.get_software_version", hosts[0])
    info = dict((k.strip(), v.strip()) for k, v in
                (line.split(":", 1) for line in host.run("xl info").stdout.splitlines()
                 if ":" in line))
    assert sv["xen"] == info["xen_version"], (sv, info["xen_version"])
    assert sv["xen"].startswith("4.17"), sv


def test_control_domain_has_dom0s_true_memory_and_vcpus(host, api):
    h = api("host.get_all")[0]
    dom0 = api("host.get_control_domain", h)
    rec = api("VM.get_record", dom0)
    assert rec["is_control_domain"] and rec["power_state"] == "Running"
    assert rec["domid"] == "0"
    mem_mib, vcpus = _xl_list_dom0(host)
    assert int(rec["VCPUs_max"]) == vcpus
    metrics = api("VM_metrics.get_record", rec["metrics"])
    assert int(metrics["VCPUs_number"]) == vcpus
    # Xen's figure for the domain (dom0_mem), not what its kernel keeps for
    # itself after its own reservations.
    actual = int(metrics["memory_actual"])
    assert abs(actual - mem_mib * MiB) <= 2 * MiB, (actual // MiB, mem_mib)


def test_the_api_answers_over_https_too(host):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    proxy = xmlrpc.client.ServerProxy("https://127.0.0.1:%d/" % host.https_port, context=ctx)
    res = proxy.session.login_with_password("root", host.image.password, "1.0", "xenia-system")
    assert res["Status"] == "Success", res
    proxy.session.logout(res["Value"])
