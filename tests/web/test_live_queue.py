"""A tab's queue of chunks (app.web.live.Stream): a tab that stops reading is cut off once STREAM_QUEUE chunks or
STREAM_BYTES bytes wait for it, and what waited is dropped at once (its reconnect catches up from the last event it
got); a tab that keeps reading is never cut off, however much passes through."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from app.web.live import STREAM_BYTES, STREAM_QUEUE, Stream


def stream() -> tuple[Stream, SimpleNamespace]:
    view = SimpleNamespace(streams=set())
    tab = Stream(view)  # type: ignore[arg-type]
    view.streams.add(tab)
    return tab, view


def cut_off(tab: Stream, view: SimpleNamespace) -> bool:
    """Ended: out of its View, and nothing waits for it but the end."""
    return tab not in view.streams and tab.queue.qsize() == 1 and tab.queue.get_nowait() is None and tab.queued == 0


def test_a_tab_that_stops_reading_is_cut_off_past_its_bytes_and_what_waited_is_dropped() -> None:
    tab, view = stream()
    chunk = b"x" * (100 * 1024)  # a region of a large page
    sent = 0
    while tab in view.streams:
        tab.put(chunk)
        sent += 1
    assert sent < STREAM_QUEUE  # cut off by its bytes, long before its count
    assert (sent - 1) * len(chunk) <= STREAM_BYTES < sent * len(chunk)
    assert cut_off(tab, view)


def test_a_tab_that_stops_reading_is_cut_off_past_its_count_of_small_chunks() -> None:
    tab, view = stream()
    for _ in range(STREAM_QUEUE):
        tab.put(b"event: traffic\ndata: x\n\n")
    assert tab in view.streams and tab.queue.full()
    tab.put(b"event: traffic\ndata: y\n\n")
    assert cut_off(tab, view)


def test_one_chunk_larger_than_the_limit_is_still_sent_to_a_tab_that_is_keeping_up() -> None:
    tab, view = stream()
    whole_page = b"x" * (STREAM_BYTES + 1)
    tab.put(whole_page)
    assert tab in view.streams and tab.queued == len(whole_page)
    assert asyncio.run(tab.next()) is whole_page and tab.queued == 0


@given(st.lists(st.tuples(st.integers(0, 2 * STREAM_BYTES), st.booleans()), max_size=200))
def test_a_tab_that_keeps_reading_is_never_cut_off_and_its_count_of_bytes_is_right(
        steps: list[tuple[int, bool]]) -> None:
    """Chunks of any size, each read before the next (`True`) or with the previous still waiting."""
    async def run() -> None:
        tab, view = stream()
        waiting: list[bytes] = []
        for size, read in steps:
            chunk = b"x" * size
            tab.put(chunk)
            if tab not in view.streams:  # only a tab with something waiting is cut off, and only past a limit
                assert waiting and (sum(map(len, waiting)) + size > STREAM_BYTES or len(waiting) == STREAM_QUEUE)
                assert cut_off(tab, view)
                return
            waiting.append(chunk)
            assert tab.queued == sum(map(len, waiting))
            if read:
                while waiting:
                    assert await tab.next() == waiting.pop(0)
                assert tab.queued == 0
    asyncio.run(run())
