"""Memory limits and VCPU counts of a halted VM: set_memory_limits and the
setters of one limit or range, set_memory, set_VCPUs_max and
set_VCPUs_at_startup, with the rules a domain is built by and the power
state they need."""
import pytest

from xeniatest import XenAPIError, vm_record

MiB = 1024 ** 2


@pytest.fixture
def s(host):
    with host.session() as session:
        yield session


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="limits"))
    yield ref
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def limits(s, vm):
    r = s("VM.get_record", vm)
    return [int(r["memory_" + k]) for k in ("static_min", "dynamic_min", "dynamic_max",
                                            "static_max")]


def test_memory_setters(s, vm):
    s("VM.set_memory_limits", vm, str(128 * MiB), str(512 * MiB), str(256 * MiB),
      str(384 * MiB))
    assert limits(s, vm) == [128 * MiB, 256 * MiB, 384 * MiB, 512 * MiB]
    s("VM.set_memory_static_range", vm, str(64 * MiB), str(1024 * MiB))
    assert limits(s, vm) == [64 * MiB, 256 * MiB, 384 * MiB, 1024 * MiB]
    s("VM.set_memory_dynamic_max", vm, str(512 * MiB))
    s("VM.set_memory_dynamic_min", vm, str(128 * MiB))
    s("VM.set_memory_static_min", vm, str(96 * MiB))
    s("VM.set_memory_static_max", vm, str(768 * MiB))
    assert limits(s, vm) == [96 * MiB, 128 * MiB, 512 * MiB, 768 * MiB]
    s("VM.set_memory", vm, str(256 * MiB))
    assert limits(s, vm) == [96 * MiB, 256 * MiB, 256 * MiB, 256 * MiB]
    err = s.error("VM.set_memory_limits", vm, str(512 * MiB), str(256 * MiB), str(256 * MiB),
                  str(256 * MiB))
    assert err[0] == "MEMORY_CONSTRAINT_VIOLATION"
    assert limits(s, vm) == [96 * MiB, 256 * MiB, 256 * MiB, 256 * MiB]


def test_static_limits_need_a_halted_vm(s, vm):
    s("VM.start", vm, False, False)
    assert s.error("VM.set_memory_static_max", vm, str(2048 * MiB)) == \
        ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert s.error("VM.set_VCPUs_max", vm, "4") == ["VM_BAD_POWER_STATE", vm, "halted",
                                                     "running"]


def test_vcpu_counts(s, vm):
    s("VM.set_VCPUs_max", vm, "4")
    s("VM.set_VCPUs_at_startup", vm, "3")
    r = s("VM.get_record", vm)
    assert (r["VCPUs_max"], r["VCPUs_at_startup"]) == ("4", "3")
    assert s.error("VM.set_VCPUs_at_startup", vm, "5") == ["INVALID_VALUE", "VCPUs_at_startup",
                                                          "5"]
    assert s.error("VM.set_VCPUs_at_startup", vm, "0")[0] == "INVALID_VALUE"
    assert s.error("VM.set_VCPUs_max", vm, "2") == ["INVALID_VALUE", "VCPUs_max", "2"]
