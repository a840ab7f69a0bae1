"""Containers' output, as a node keeps it for `kubectl logs`: the current and the previous run of each container.

Whatever stands in for a container (the dev cluster's simulated kubelet) writes here; the API server reads it for
`GET .../pods/{name}/log`, following a run while it goes on. Kept in memory, a bounded number of lines per run: a
restarted dev cluster starts its containers' logs afresh, as a rebooted node would.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.devcluster.apiserver import errors

LINES_PER_RUN = 1000

Key = tuple[str, str, str]  # namespace, pod, container


@dataclass(frozen=True)
class Line:
    time: float  # seconds since the epoch
    text: str

    def render(self, timestamps: bool) -> str:
        if not timestamps:
            return self.text + "\n"
        stamp = datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        return f"{stamp} {self.text}\n"


@dataclass(eq=False)
class Run:
    """One run of a container: its lines so far, and whether it has ended."""

    lines: deque[Line] = field(default_factory=lambda: deque(maxlen=LINES_PER_RUN))
    written: int = 0  # lines ever written, so a follower knows where it is when old ones are dropped
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def append(self, line: Line) -> None:
        self.lines.append(line)
        self.written += 1
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def since(self, position: int) -> list[Line]:
        """The lines written from `position` on that are still kept."""
        first = self.written - len(self.lines)
        return list(self.lines)[max(position - first, 0):]

    def tail(self) -> str:
        return "".join(line.text + "\n" for line in self.lines)


class ContainerLogs:
    def __init__(self) -> None:
        self._runs: dict[Key, list[Run]] = {}  # at most [previous, current]

    def start(self, key: Key) -> Run:
        """A new run of the container (a start or a restart); the run before it becomes the previous one."""
        runs = self._runs.setdefault(key, [])
        if runs:
            runs[-1].end()
        run = Run()
        runs.append(run)
        del runs[:-2]
        return run

    def write(self, key: Key, text: str, when: float) -> None:
        runs = self._runs.get(key)
        run = runs[-1] if runs else self.start(key)
        for part in text.splitlines() or [""]:
            run.append(Line(when, part))

    def end(self, key: Key) -> None:
        runs = self._runs.get(key)
        if runs:
            runs[-1].end()

    def current(self, key: Key) -> Run | None:
        runs = self._runs.get(key)
        return runs[-1] if runs else None

    def previous(self, key: Key) -> Run | None:
        runs = self._runs.get(key)
        return runs[-2] if runs and len(runs) > 1 else None

    def close(self) -> None:
        """Every run ends: whoever follows one stops."""
        for runs in self._runs.values():
            for run in runs:
                run.end()

    def forget(self, namespace: str, pod: str) -> None:
        """The pod is gone: its followers stop, its lines go."""
        for key in [k for k in self._runs if k[:2] == (namespace, pod)]:
            for run in self._runs.pop(key):
                run.end()


@dataclass(frozen=True)
class LogOptions:
    """PodLogOptions that shape the answer."""

    follow: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    limit_bytes: int | None = None


def validate(options: LogOptions, name: str, since_time: bool) -> None:
    """kube-apiserver's ValidatePodLogOptions (pkg/apis/core/validation), before it looks for the pod."""
    causes: list[tuple[str, str, str]] = []
    if options.tail_lines is not None and options.tail_lines < 0:
        causes.append(("FieldValueInvalid", "tailLines",
                       f"Invalid value: {options.tail_lines}: must be greater than or equal to 0"))
    if options.limit_bytes is not None and options.limit_bytes < 1:
        causes.append(("FieldValueInvalid", "limitBytes",
                       f"Invalid value: {options.limit_bytes}: must be greater than 0"))
    if options.since_seconds is not None and since_time:
        # field.NewPath(""): a path of one empty name, which Path.String() prints as "[]" (field/path.go).
        causes.append(("FieldValueForbidden", "[]",
                       "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif options.since_seconds is not None and options.since_seconds < 1:
        causes.append(("FieldValueInvalid", "sinceSeconds",
                       f"Invalid value: {options.since_seconds}: must be greater than 0"))
    if causes:
        raise errors.invalid("PodLogOptions", "", name, causes)


async def stream(run: Run, options: LogOptions, now: float) -> AsyncGenerator[str, None]:
    """The run's lines as the options select them, then, when following, each new line until the run ends."""
    lines = run.since(0)
    if options.since_seconds is not None:
        lines = [line for line in lines if line.time >= now - options.since_seconds]
    if options.tail_lines is not None:
        lines = lines[len(lines) - options.tail_lines:] if options.tail_lines else []
    position = run.written
    sent = 0
    while True:
        for line in lines:
            text = line.render(options.timestamps)
            yield text
            sent += len(text.encode())
            if options.limit_bytes is not None and sent >= options.limit_bytes:
                return
        if not options.follow:
            return
        changed = run.changed  # taken before reading, so that a line written meanwhile wakes it
        lines, position = run.since(position), run.written
        if not lines:
            if run.ended:
                return
            await changed.wait()


def container_of(pod: dict[str, Any], requested: str) -> str:
    """The container a log request means (kube-apiserver's LogLocation): the one named, or the pod's only one."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
    init = [str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, dict)]
    if not requested:
        if len(names) == 1:
            return names[0]
        if not names:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise errors.bad_request(message)
    if requested not in names + init:
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def run_for(logs: ContainerLogs, pod: dict[str, Any], container: str, previous: bool) -> Run:
    """The run whose output the kubelet would send (its validateContainerLogStatus), or its refusal."""
    meta, status = pod["metadata"], pod.get("status") or {}
    name = meta["name"]
    statuses = [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]
    found = next((s for s in statuses if isinstance(s, dict) and s.get("name") == container), None)
    if found is None:
        raise errors.bad_request(f'container "{container}" in pod "{name}" is not available')
    key = (meta["namespace"], name, container)
    state, last = found.get("state") or {}, (found.get("lastState") or {}).get("terminated")
    if previous:
        # While it waits to restart, the run that ended last is still the current one: no new run has begun.
        run = logs.current(key) if state.get("waiting") else logs.previous(key)
        if not last or run is None:
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return run
    waiting = state.get("waiting")
    if state.get("running") or state.get("terminated"):
        run = logs.current(key)
    elif last:
        run = logs.current(key)  # a container waiting to restart: its last run's output
    elif waiting:
        reason = waiting.get("reason") or ""
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    else:
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start - no logs yet')
    return run if run is not None else Run(ended=True)
