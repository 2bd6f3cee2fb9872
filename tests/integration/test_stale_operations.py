"""An operation that was under way when the host crashed does not block the
VM afterwards: xapi clears current_operations as it starts again."""
import threading

from xeniatest import vm_record, wait_until


def test_operations_cut_short_by_a_crash_are_cleared(host_factory):
    # Each step of the simulated hypervisor takes 5 s: a start is caught
    # in the middle.
    h = host_factory(env={"XENIA_DOMAIND_ARGS": "--sim-step-ms 5000"})
    with h.session() as s:
        vm = s("VM.create", vm_record(name_label="caught"))
    started = threading.Event()

    def start():
        with h.session() as s2:
            started.set()
            try:
                s2("VM.start", vm, False, False)
            except Exception:  # the host dies under it
                pass

    t = threading.Thread(target=start, daemon=True)
    t.start()
    started.wait(10)
    with h.session() as s:
        wait_until(lambda: s("VM.get_current_operations", vm), 10, what="start under way")
    h.kill9()
    t.join(30)
    h.start()
    with h.session() as s:
        assert s("VM.get_current_operations", vm) == {}
        assert "start" in s("VM.get_allowed_operations", vm) or \
            s("VM.get_power_state", vm) != "Halted"
