"""Fixtures shared by every test package: one dev cluster process for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DevClusterProcess


@pytest.fixture(scope="session")
def devcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    """A dev cluster shared by the session; tests use their own names or namespaces in it."""
    data = Path(tmp_path_factory.mktemp("devcluster"))
    cluster = DevClusterProcess(
        data, ["--revision-start-delay", "0.3", "--bookmark-interval", "1", "--audit-log-path", str(data / "audit.log")],
        users=("alice", "bob", "carol"),
    ).start()
    yield cluster
    code = cluster.stop()
    assert code == 0, f"dev cluster exited with {code}:\n{cluster.log()[-4000:]}"
