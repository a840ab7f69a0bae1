"""A gradual rollout in progress, as the Service's status reports it: while Knative moves the floating share to the
newest revision step by step (knative/serving route.go), `status.traffic` carries one floating entry per revision in
the rollout, newest last, and RoutesReady is Unknown with reason RolloutInProgress."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.knative.models import RevisionView, ServiceView
from app.knative.numbers import whole

IN_PROGRESS = "RolloutInProgress"
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?)(h|m|s|ms)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
MAX_SECONDS = 86400  # what the wizard offers: a day


def seconds_of(duration: str) -> int:
    """A Go duration's whole seconds (`90s`, `1m30s`, `2m`); 0 for anything else."""
    text = duration.strip()
    if not text or len(text) > 40 or "".join(n + u for n, u in _PART.findall(text)) != text:
        return 0
    return int(sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text)))


@dataclass(frozen=True)
class RolloutProgress:
    revision: str  # the revision taking over
    share: int  # its percent of all traffic now
    goal: int  # the floating entries' percent, which it will have at the end
    others: tuple[tuple[str, int], ...]  # the revisions giving their share up, with what they still have
    started: str  # when the rollout began (RoutesReady's lastTransitionTime), RFC 3339
    duration: int  # seconds, 0 when the Service does not say (config-network's rollout-duration then applies)

    @property
    def ends(self) -> str:
        """When it should be done (RFC 3339), "" when that is not known."""
        if not self.duration or not self.started:
            return ""
        try:
            start = datetime.fromisoformat(self.started.replace("Z", "+00:00"))
        except ValueError:
            return ""
        return (start + timedelta(seconds=self.duration)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def in_words(self) -> str:
        """Where the floating share goes now: `app-00001 86%, app-00002 14% (rolling out app-00002)`."""
        parts = [*self.others, (self.revision, self.share)]
        return f"{', '.join(f'{name} {share}%' for name, share in parts)} (rolling out {self.revision})"

    @property
    def in_list(self) -> str:
        """The Service list's line: `Rolling out app-00002: 14% of 100% so far`."""
        return f"Rolling out {self.revision}: {self.share}% of {self.goal}% so far"

    def for_revision(self, name: str) -> str:
        """Said on a revision's page: what the rollout does to it ("" when it is not in the rollout)."""
        if name == self.revision:
            return (f"Rolling out: it has {self.share}% so far; Knative gives it the latest ready revision's "
                    f"{self.goal}% step by step.")
        still = dict(self.others).get(name)
        if still is None:
            return ""
        return (f"Giving its share up to {self.revision}: it still has {still}% of the latest ready revision's "
                f"{self.goal}%; Knative moves the rest step by step.")

    @property
    def in_form(self) -> str:
        """Said in a traffic form: what OK does to the rollout (knative/serving rollout.go: Step keeps rolling a
        configuration that stays in the route, adjustPercentage gives a larger share's difference to the newest
        revision and takes a smaller one from the oldest first, and a configuration no longer routed leaves the
        rollout; revisions named in the split are not part of it)."""
        return (f"{self.revision} is rolling out: Knative moves the latest-revision row's share to it step by step "
                f"({self.share}% of all traffic now). Keep that row and the rollout goes on with the share you give "
                f"it (a larger share goes to {self.revision} at once, a smaller one is taken from the older revisions "
                "first). Shares given to a revision by name take effect at once; with the latest-revision row at 0% "
                "(or removed) nothing rolls out any more.")

    @property
    def fraction(self) -> float:
        return self.share / self.goal if self.goal else 1.0


def rollout_progress(service: ServiceView, revisions: Sequence[RevisionView] = ()) -> RolloutProgress | None:
    """The rollout under way, or None when traffic is settled. It began when RoutesReady turned RolloutInProgress, or,
    for a revision made during an earlier rollout (which starts a new one to it: rollout.go's stepConfig stamps a new
    StartTime, while RoutesReady keeps its first transition), when that revision became Ready, if it is among
    `revisions`."""
    floating = [t for t in service.status_traffic if t.latest_revision and not t.tag and t.revision_name]
    routes = next((c for c in service.conditions if c.type == "RoutesReady"), None)
    names = list(dict.fromkeys(t.revision_name for t in floating))
    rolling = routes is not None and routes.reason == IN_PROGRESS
    if len(names) < 2 and not rolling:
        return None
    if not names:
        return None
    newest = names[-1]
    share = sum(t.percent for t in floating if t.revision_name == newest)
    others = tuple((name, sum(t.percent for t in floating if t.revision_name == name)) for name in names[:-1])
    started = routes.last_transition if routes is not None and rolling else ""
    ready = next((r.condition("Ready") for r in revisions if r.name == newest), None)
    if started and ready is not None and ready.status == "True" and ready.last_transition > started:
        started = ready.last_transition
    return RolloutProgress(newest, share, sum(t.percent for t in floating), others, started,
                           seconds_of(service.rollout_duration))


class RolloutError(ValueError):
    """What is wrong with a requested rollout, said so that the user knows what to do."""


def rollout_request(text: str, floating_share: int) -> int | None:
    """The wizard's "Roll out gradually over … seconds": None for at once, else whole seconds; RolloutError when the
    value is not usable, or when no traffic would move (a rollout moves the latest-revision row's share)."""
    text = text.strip()
    if not text:
        return None
    seconds = whole(text, MAX_SECONDS)
    if not seconds:
        raise RolloutError(f"Enter whole seconds from 1 to {MAX_SECONDS}, or leave it empty to move traffic at once.")
    if not floating_share:
        raise RolloutError("A gradual rollout moves the latest-revision row's share to the new revision, and that row "
                           "has 0% here: give it the share to roll out (and take it from the other rows), or leave "
                           "this empty.")
    return seconds
