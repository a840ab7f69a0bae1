"""What the operator's log says when the API server cannot be reached: the outage once, a reminder while it lasts,
and once more when the server answers again.

Every open watch retries every few seconds and every page asks the cluster, so one line per failed call would say
the same outage a dozen times a minute per open page; the count of failed calls in the reminder keeps what those
lines told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

REMIND_SECONDS = 60.0


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, seconds_left = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {seconds_left} s" if seconds_left else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class OutageLog:
    """The state of one API server's reachability, as the log has said it. Shared by a Cluster and the Clusters it
    makes for users (`as_user`): one server, one outage."""

    def __init__(self, log: logging.Logger, remind_every: float = REMIND_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.remind_every = remind_every
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0  # failed calls since the outage began, the first one included
        self.said_at = 0.0

    def failed(self, server: str, cause: str, detail: str) -> None:
        """A call found the server unreachable: said at once if it is the first, else in a reminder when due."""
        now = self.clock()
        if self.down_since is None:
            self.down_since, self.failures, self.said_at = now, 1, now
            self.log.warning("cannot reach the Kubernetes API server at %s (%s): %s. Calls are retried; this is said "
                             "again every %s while it lasts, and once it answers again", server, cause, detail,
                             _duration(self.remind_every))
            return
        self.failures += 1
        if now - self.said_at >= self.remind_every:
            self.said_at = now
            self.log.warning("still cannot reach the Kubernetes API server at %s, for %s now (%d failed calls); the "
                             "last: (%s) %s", server, _duration(now - self.down_since), self.failures, cause, detail)

    def answered(self, server: str) -> None:
        """A call got an answer (any answer: a refusal too) from the server."""
        if self.down_since is None:
            return
        self.log.warning("the Kubernetes API server at %s answers again, after %s unreachable (%d failed calls)",
                         server, _duration(self.clock() - self.down_since), self.failures)
        self.down_since, self.failures = None, 0
