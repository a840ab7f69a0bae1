"""Where the gateway hands a request once it has chosen a revision: the instance that serves it.

The gateway reads routes and never writes. What a request does to the cluster (an instance started for a revision
scaled to zero, the concurrency the autoscaler scales on, the line the container logs) is done by the object behind
this interface, which the cluster assembly wires to the controllers' autoscaler.
"""

from __future__ import annotations

from typing import Protocol


class Backends(Protocol):
    async def acquire(self, namespace: str, revision: str) -> str | None:
        """The instance (pod) that serves one request, once one is ready; None when none became ready in time."""
        ...

    def release(self, namespace: str, revision: str, pod: str) -> None:
        """The request is answered."""
        ...


class Instant:
    """No controllers behind the gateway: every revision answers at once, from no particular instance."""

    async def acquire(self, namespace: str, revision: str) -> str | None:
        return ""

    def release(self, namespace: str, revision: str, pod: str) -> None:
        return None
