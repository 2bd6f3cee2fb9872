"""A VM's data sources through the API, on the sim backend: memory,
memory_target and one cpuN per online vCPU, named as XCP's rrdd names
them, read from domaind's domain/stats, with VM_metrics brought up to date;
an unknown source is the error XCP gives."""
import pytest

from xeniatest import Host, XenAPIError, agent_answer, agent_call, vm_record

MiB = 1024 ** 2


@pytest.fixture(scope="module")
def dhost():
    h = Host().start()
    yield h
    h.close()
    h.remove_state()


@pytest.fixture
def s(dhost):
    with dhost.session() as session:
        yield session


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="measured",
                                   memory_static_max=str(512 * MiB),
                                   memory_dynamic_max=str(512 * MiB),
                                   memory_dynamic_min=str(256 * MiB),
                                   memory_static_min=str(256 * MiB),
                                   VCPUs_max="2", VCPUs_at_startup="1"))
    s("VM.start", ref, False, False)
    yield ref
    try:
        s("VM.hard_shutdown", ref)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def sources(s, vm):
    return {d["name_label"]: d for d in s("VM.get_data_sources", vm)}


def test_a_running_vm_has_memory_and_a_cpu_per_online_vcpu(s, vm):
    ds = sources(s, vm)
    assert set(ds) == {"memory", "memory_target", "cpu0"}
    assert ds["memory"]["units"] == "B" and ds["cpu0"]["units"] == "(fraction)"
    assert all(d["enabled"] and d["standard"] for d in ds.values())
    assert float(ds["memory"]["value"]) == 512 * MiB
    assert float(ds["memory_target"]["value"]) == 512 * MiB
    assert (float(ds["cpu0"]["min"]), float(ds["cpu0"]["max"])) == (0.0, 1.0)
    assert 0.0 <= float(ds["cpu0"]["value"]) <= 1.0


def test_query_answers_what_domaind_reads(s, vm, dhost):
    uuid = s("VM.get_uuid", vm)
    stats = agent_call(dhost, "domaind", "domain/stats", uuid=uuid)
    assert float(s("VM.query_data_source", vm, "memory")) == stats["memory_actual"]
    assert float(s("VM.query_data_source", vm, "memory_target")) == stats["memory_target"]
    # the sim's guests run no code: their vCPUs use no time
    assert [(v["online"], v["cpu_time"]) for v in stats["vcpus"]] == [(True, 0), (False, 0)]
    assert float(s("VM.query_data_source", vm, "cpu0")) == 0.0


def test_the_balloon_target_follows_set_memory_dynamic_range(s, vm):
    s("VM.set_memory_dynamic_range", vm, str(256 * MiB), str(384 * MiB))
    assert float(s("VM.query_data_source", vm, "memory_target")) == 384 * MiB


def test_vcpus_set_live_add_a_cpu_source_and_metrics_follow(s, vm):
    s("VM.set_VCPUs_number_live", vm, "2")
    assert set(sources(s, vm)) == {"memory", "memory_target", "cpu0", "cpu1"}
    metrics = s("VM.get_metrics", vm)
    assert s("VM_metrics.get_VCPUs_number", metrics) == "2"
    assert s("VM_metrics.get_memory_actual", metrics) == str(512 * MiB)


def test_an_unknown_source_is_an_error(s, vm):
    err = s.error("VM.query_data_source", vm, "cpu1")  # offline: not a source
    assert err[0] == "INTERNAL_ERROR" and "cpu1" in err[1]
    err = s.error("VM.record_data_source", vm, "no_such_source")
    assert err[0] == "INTERNAL_ERROR" and "no_such_source" in err[1]


def test_record_of_a_known_source_is_done(s, vm):
    s("VM.record_data_source", vm, "memory")


def test_a_halted_vm_has_no_data_sources(s):
    ref = s("VM.create", vm_record(name_label="idle"))
    try:
        assert s("VM.get_data_sources", ref) == []
        assert s.error("VM.query_data_source", ref, "memory")[0] == "INTERNAL_ERROR"
    finally:
        s("VM.destroy", ref)


def test_domain_stats_of_no_domain_is_no_such_domain(dhost):
    _, error = agent_answer(dhost, "domaind", "domain/stats",
                            uuid="00000000-0000-0000-0000-00000000abcd")
    assert error["data"]["error"] == "NO_SUCH_DOMAIN"
