"""The benchmarks start as `python -m bench NAME` runs them: a benchmark's own options are not read from the
command line that named it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bench import release_safety


class NoCluster:
    def __init__(self, *args: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_release_safety_named_by_python_m_bench_takes_its_defaults(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    seen: list[tuple[int, int, int]] = []

    async def measure(cluster: Any, posts: int, runs: int, seed: int) -> None:
        seen.append((posts, runs, seed))

    monkeypatch.setattr(sys, "argv", ["python -m bench", "release_safety"])
    monkeypatch.setattr(release_safety, "DevClusterProcess", NoCluster)
    monkeypatch.setattr(release_safety, "measure", measure)
    monkeypatch.setattr(release_safety.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    release_safety.main()
    assert seen == [(2940, 10, 8)]
