"""The host's memory as the API tells it: host.compute_free_memory follows
the domains that run (sim backend; host_metrics.memory_free is a removed
field),
VM.assert_can_boot_here and VM.get_possible_hosts refuse a VM the host
cannot hold, with the XenAPI's errors."""
import pytest

from xeniatest import XenAPIError, vm_record, wait_until

GiB = 1024 ** 3
MiB = 1024 ** 2


@pytest.fixture
def s(host):
    with host.session() as session:
        yield session


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="memory"))
    yield ref
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def test_free_memory_follows_the_domains(s, vm):
    host = s("host.get_all")[0]
    metrics = s("host.get_metrics", host)
    before = int(s("host.compute_free_memory", host))
    assert 0 < before <= int(s("host_metrics.get_memory_total", metrics))
    s("VM.start", vm, False, False)
    during = int(s("host.compute_free_memory", host))
    assert during < before
    s("VM.hard_shutdown", vm)
    wait_until(lambda: int(s("host.compute_free_memory", host)) == before, 10,
               what="memory given back")


def test_a_vm_too_large_for_the_host_cannot_boot_there(s, vm):
    host = s("host.get_all")[0]
    assert s("VM.get_possible_hosts", vm) == [host]
    s("VM.assert_can_boot_here", vm, host)
    big = str(int(s("host.compute_free_memory", host)) + GiB)
    large = s("VM.create", vm_record(name_label="too large", memory_static_max=big,
                                     memory_dynamic_max=big, memory_dynamic_min=big))
    try:
        err = s.error("VM.assert_can_boot_here", large, host)
        assert err[0] == "HOST_NOT_ENOUGH_FREE_MEMORY" and err[1] == big
        assert s("VM.get_possible_hosts", large) == []
        assert s.error("VM.start", large, False, False)[0] == "HOST_NOT_ENOUGH_FREE_MEMORY"
        assert s("VM.get_power_state", large) == "Halted"
    finally:
        s("VM.destroy", large)
