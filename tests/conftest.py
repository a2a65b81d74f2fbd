import pytest

from tests import process_guard
from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (shared fixtures, one emulator per session)


def pytest_configure(config):
    config._gnosis_run_mark = process_guard.mark_this_run()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process started by a test outlived the session (and end it)."""
    leaked = process_guard.leftovers(session.config._gnosis_run_mark)
    if not leaked:
        return
    process_guard.kill_all(leaked)
    lines = "\n".join(f"  pid {pid}: {command}" for pid, command in sorted(leaked.items()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"processes started by the tests were still running at the end of the session (now killed):\n{lines}"
    if reporter is not None:
        reporter.write_sep("=", "LEFT RUNNING", red=True)
        reporter.write_line(message)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
