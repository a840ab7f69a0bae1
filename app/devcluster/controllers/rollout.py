"""Gradual rollout of a configuration's newest revision, as knative/serving `pkg/reconciler/route/traffic/rollout.go`
does it: a new revision starts at 1%, and once the ingress has taken that first step, the rest moves in equal steps
spread over the rollout duration, newest revision last in each list.

The state lives where Knative keeps it, serialized in the route's KIngress annotation
`networking.internal.knative.dev/rollout`, with the same JSON field names, so a restart picks it up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

NANOS = 1_000_000_000


@dataclass
class RevisionRollout:
    revision_name: str
    percent: int


@dataclass
class ConfigurationRollout:
    configuration_name: str
    tag: str
    percent: int
    revisions: list[RevisionRollout] = field(default_factory=list)
    start_time: int = 0  # Unix ns when the rollout started
    next_step_time: int = 0  # Unix ns of the next step
    step_duration: int = 0  # ns between steps
    step_size: int = 0  # percent moved per step

    def done(self) -> bool:
        return len(self.revisions) < 2

    def _clear_steps(self) -> None:
        self.start_time = self.next_step_time = self.step_duration = self.step_size = 0

    def compute_properties(self, now: float, min_step_seconds: float, duration_seconds: float) -> None:
        """Step count, size and period, once the first 1% has been rolled out (computeProperties)."""
        duration_seconds = max(1.0, duration_seconds - min_step_seconds)
        steps = max(1.0, duration_seconds / min_step_seconds)
        remaining = float(self.percent - 1)
        steps = min(steps, remaining) if remaining > 0 else steps
        size = _round_half_away(remaining / steps) if steps else 0
        step_duration = duration_seconds / steps * NANOS
        self.step_duration = int(step_duration)
        self.step_size = int(size)
        self.next_step_time = int(now + step_duration)

    def step_revisions(self, now: int) -> None:
        """Move one step of traffic from the older revisions to the newest (stepRevisions)."""
        if now < self.next_step_time or len(self.revisions) < 2:
            return
        revisions = self.revisions
        count = len(revisions)
        remaining = self.step_size
        write = count - 1
        read = count - 2
        while remaining > 0 and read >= 0:
            if revisions[read].percent > remaining:
                revisions[read].percent -= remaining
                break
            remaining -= revisions[read].percent
            write -= 1
            read -= 1
        revisions[write] = revisions[count - 1]
        revisions[write].percent = min(revisions[write].percent + self.step_size, self.percent)
        del revisions[write + 1:]
        if len(revisions) > 1:
            self.next_step_time = now + self.step_duration
        else:
            self._clear_steps()


def _round_half_away(value: float) -> float:
    """Go's math.Round: halves away from zero (Python's round() rounds them to even)."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


@dataclass
class Rollout:
    configurations: list[ConfigurationRollout] = field(default_factory=list)

    def done(self) -> bool:
        return all(c.done() for c in self.configurations)

    def by_tag(self, tag: str) -> list[ConfigurationRollout]:
        return [c for c in self.configurations if c.tag == tag]

    def sort(self) -> None:
        self.configurations.sort(key=lambda c: (c.tag, c.configuration_name))

    def observe_ready(self, now: int, duration_seconds: float) -> None:
        """The ingress took the first step: time the rest of each rollout that has not been timed yet."""
        for config in self.configurations:
            if config.step_duration == 0 and config.start_time > 0:
                min_step = max(1.0, math.ceil((now - config.start_time) / NANOS))
                config.compute_properties(float(now), min_step, duration_seconds)

    def step(self, previous: Rollout | None, now: int) -> tuple[Rollout, int]:
        """This (the goal) merged with the previous state: the traffic to serve now, and when to step next (0: none)."""
        if previous is None or not previous.configurations:
            return self, 0
        result: list[ConfigurationRollout] = []
        next_step = 0
        tags = sorted({c.tag for c in self.configurations})
        for tag in tags:
            current = self.by_tag(tag)
            before = previous.by_tag(tag)
            if not before:
                result.append(current[0])
                continue
            i = j = 0
            while i < len(current):
                if j >= len(before):
                    result.append(current[i])
                    i += 1
                elif current[i].configuration_name == before[j].configuration_name:
                    if current[i].percent > 1:
                        stepped = _step_config(current[i], before[j], now)
                        result.append(stepped)
                        if stepped.next_step_time > 0 and (not next_step or stepped.next_step_time < next_step):
                            next_step = stepped.next_step_time
                    elif current[i].percent == 1:
                        result.append(current[i])
                    i += 1
                    j += 1
                elif current[i].configuration_name < before[j].configuration_name:
                    if current[i].percent:
                        result.append(current[i])
                    i += 1
                else:
                    j += 1
        merged = Rollout(result)
        merged.sort()
        return merged, next_step

    # -- the annotation --------------------------------------------------------------------

    def dumps(self) -> str:
        return json.dumps(_as_json(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Rollout | None:
        """The annotation read back; None when it is missing, unreadable or inconsistent (Validate)."""
        if not text:
            return None
        try:
            rollout = _from_json(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        for config in rollout.configurations:
            if config.percent > 100 or not 0 <= config.step_size <= config.percent:
                return None
            if sum(r.percent for r in config.revisions) != config.percent:
                return None
        return rollout


def _adjust_percentage(goal: int, config: ConfigurationRollout) -> None:
    """The configuration's share changed: the newest revision gains the difference, or the oldest lose it."""
    diff = goal - config.percent
    if goal == 0:
        config.revisions = []
    elif diff > 0:
        config.revisions[-1].percent += diff
    elif diff < 0:
        diff = -diff
        index = 0
        while diff > 0 and index < len(config.revisions):
            if config.revisions[index].percent > diff:
                config.revisions[index].percent -= diff
                break
            diff -= config.revisions[index].percent
            index += 1
        config.revisions = config.revisions[index:]


def _step_config(goal: ConfigurationRollout, previous: ConfigurationRollout, now: int) -> ConfigurationRollout:
    result = ConfigurationRollout(goal.configuration_name, goal.tag, goal.percent, list(goal.revisions))
    count = len(previous.revisions)
    if count:
        _adjust_percentage(goal.percent, previous)
    newest = previous.revisions[-1].revision_name if previous.revisions else ""
    if not count or goal.revisions[0].revision_name == newest:
        if len(previous.revisions) > 1:
            result.revisions = previous.revisions
            result.start_time, result.next_step_time = previous.start_time, previous.next_step_time
            result.step_duration, result.step_size = previous.step_duration, previous.step_size
            if result.step_size > 0:
                result.step_revisions(now)
        return result
    # A new revision: it starts at 1%, taken from the newest revision that has any.
    result.start_time = now
    for revision in reversed(previous.revisions):
        if revision.percent > 0:
            revision.percent -= 1
            break
    kept = [r for r in previous.revisions if r.percent]
    result.revisions = [*kept, RevisionRollout(goal.revisions[0].revision_name, 1)]
    return result


def _as_json(rollout: Rollout) -> dict[str, Any]:
    configurations = []
    for c in rollout.configurations:
        entry: dict[str, Any] = {"configurationName": c.configuration_name}
        if c.tag:
            entry["tag"] = c.tag
        entry["percent"] = c.percent
        if c.revisions:
            entry["revisions"] = [{"revisionName": r.revision_name, "percent": r.percent} for r in c.revisions]
        params: dict[str, Any] = {}
        for key, value in (("starttime", c.start_time), ("nextStepTime", c.next_step_time),
                           ("stepDuration", c.step_duration), ("stepSize", c.step_size)):
            if value:
                params[key] = value
        entry["stepParams"] = params
        configurations.append(entry)
    return {"configurations": configurations} if configurations else {}


def _from_json(data: dict[str, Any]) -> Rollout:
    configurations = []
    for c in data.get("configurations") or []:
        params = c.get("stepParams") or {}
        configurations.append(ConfigurationRollout(
            str(c["configurationName"]), str(c.get("tag") or ""), int(c["percent"]),
            [RevisionRollout(str(r["revisionName"]), int(r["percent"])) for r in c.get("revisions") or []],
            int(params.get("starttime") or 0), int(params.get("nextStepTime") or 0),
            int(params.get("stepDuration") or 0), int(params.get("stepSize") or 0),
        ))
    return Rollout(configurations)


def goal(targets: list[tuple[str, str, int, str]]) -> Rollout:
    """The rollout the route's resolved floating targets ask for (BuildRollout): per tag and configuration, its
    share and the revision it resolves to now. `targets`: (tag, configuration, percent, revision), where the
    untagged ("") entries are every floating target and each tag's own entry carries 100%."""
    rollout = Rollout([ConfigurationRollout(configuration, tag, percent, [RevisionRollout(revision, percent)])
                       for tag, configuration, percent, revision in targets if percent])
    rollout.sort()
    return rollout
