"""Fixtures of the integration tests: Xenia hosts started with
scripts/run-host (xeniatest.Host), always torn down, with the tail of
xapi's log shown when a test fails and a failure when the sanitizers
reported anything."""

import pytest

from xeniatest import Host, xapi_binary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


def _teardown(host, show_log, expect_running=False):
    problems = []
    try:
        if expect_running:
            if not host.alive():
                problems.append("xapi died while the tests ran")
            else:
                rc = host.stop()
                if rc != 0:
                    problems.append("run-host exited %r after SIGTERM" % rc)
        host.close()
    finally:
        reports = host.sanitizer_reports()
        if show_log or reports or problems:
            print("--- %r xapi.log (tail) ---\n%s" % (host, host.log_tail(40)))
        else:
            host.remove_state()
    assert not reports, "the sanitizers reported errors in %s:\n%s" % (
        host.log_path, "\n".join(reports[:20]))
    assert not problems, "%r: %s" % (host, "; ".join(problems))


@pytest.fixture(scope="session", autouse=True)
def _built():
    if not xapi_binary().exists():
        pytest.exit("no xapi at %s: run make (or set XENIA_BUILD)" % xapi_binary(), 2)


@pytest.fixture(scope="module")
def host(request):
    """A host shared by the tests of one module, for read-mostly tests."""
    failed_before = request.session.testsfailed
    h = Host()
    h.start()
    yield h
    _teardown(h, request.session.testsfailed > failed_before, expect_running=True)


@pytest.fixture
def fresh_host(request):
    """A host of one's own, where state matters."""
    h = Host()
    h.start()
    yield h
    _teardown(h, _failed(request))


@pytest.fixture
def host_factory(request):
    """Makes as many hosts as a test needs (started), tearing all down."""
    made = []

    def make(**kw):
        h = Host(**kw)
        made.append(h)
        return h.start()

    yield make
    errors = []
    for h in made:
        try:
            _teardown(h, _failed(request))
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def session(host):
    """A root session on the shared host, logged out afterwards."""
    s = host.session()
    yield s
    s.close()
