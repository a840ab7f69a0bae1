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


def test_the_split_is_set_beside_the_patch_and_one_request_to_the_console() -> None:
    from bench.console import Pairs, hop_lines

    split = Pairs(page=[0.004] * 10 + [0.006] * 10, bare=[0.002] * 10 + [0.003] * 10, hop=[0.001] * 20)
    (line,) = hop_lines(split)
    assert "GET /livez" in line and "p50 1.00 ms, p95 1.00 ms" in line
    assert "Split POST − bare PATCH: p50 2.50 ms, p95 3.00 ms" in line and "is 1.50 ms at p50" in line
    assert line.endswith("(bare PATCH p95 + that request's p95): 1.50×")
    assert hop_lines(Pairs(page=[0.004], bare=[0.002])) == [] and hop_lines(None) == []


async def test_the_split_post_sends_the_bytes_aiohttp_would_have_made_of_the_form() -> None:
    """The benchmark encodes the form before it times the POST (a browser's encoding is no part of the console); what
    it sends is what aiohttp's FormData made of the same fields when it did the encoding inside the timed POST."""
    import aiohttp

    from bench.console import Browser

    browser = Browser.__new__(Browser)
    browser.token = "tok-en_1"
    form = [("basis_traffic", '[{"percent":100,"revisionName":"a-00001"}]'), ("row_tag", ""), ("row_percent", "50%"),
            ("note", "é & = + /"), ("action", "ok")]
    payload = aiohttp.FormData([("csrf_token", browser.token), *form])()
    assert browser.encoded(form) == payload._value
    assert payload.content_type == "application/x-www-form-urlencoded"
