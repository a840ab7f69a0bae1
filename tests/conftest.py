"""Fixtures shared by every test package: one dev cluster process for the session, its revisions starting in 0.1 s and
its autoscaler at Knative's smallest settings (a 6 s stable window, the shortest allowed, and a 1 s scale-to-zero
grace period), so that idle revisions reach zero within seconds; and a second one, started by the first module that
asks for it, whose revisions take 1 s to start, for the tests that look at a revision before it is Ready."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import DevClusterProcess

# No per-example deadline in any property test: a deadline is a timing assertion, and on a loaded machine it fails
# where the code does not (test_any_metadata_is_read_without_failing did, once). A test's own settings keep this.
settings.register_profile("console", deadline=None)
settings.load_profile("console")


@pytest.fixture(scope="session")
def devcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    """A dev cluster shared by the session; tests use their own names or namespaces in it."""
    data = Path(tmp_path_factory.mktemp("devcluster"))
    cluster = DevClusterProcess(
        data, ["--revision-start-delay", "0.1", "--cold-start-delay", "0.2", "--restart-backoff", "0.5",
               "--bookmark-interval", "1", "--audit-log-path", str(data / "audit.log")],
        users=("alice", "bob", "carol"),
    ).start()
    cluster.configure_autoscaler(**{"stable-window": "6s", "scale-to-zero-grace-period": "1s"})
    yield cluster
    code = cluster.stop()
    assert code == 0, f"dev cluster exited with {code}:\n{cluster.log()[-4000:]}"


@pytest.fixture(scope="session")
def slow_devcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    """A dev cluster whose revisions take 1 s to become Ready, so the states before Ready can be seen (shared by the
    modules that need that, started once)."""
    cluster = DevClusterProcess(Path(tmp_path_factory.mktemp("slow")), ["--revision-start-delay", "1"]).start()
    yield cluster
    code = cluster.stop()
    assert code == 0, f"the slow dev cluster exited with {code}:\n{cluster.log()[-4000:]}"
