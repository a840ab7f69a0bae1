"""The traffic check: N requests through the gateway, counted per revision against the configured split.

An answer is attributed to the revision named by its `X-Knative-Revision` header where the gateway sends one (the
dev cluster's does); otherwise answers are grouped by status and body, as `curl … | sort | uniq -c` is read by eye.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.knative.models import ServiceView
from app.knative.naming import short_name
from app.knative.numbers import whole

DEFAULT_REQUESTS = 200
MAX_REQUESTS = 2000
BODY_SHOWN = 120  # characters of a body that name its group
REVISION_HEADER = "X-Knative-Revision"


class CheckError(Exception):
    """What is wrong with the check's parameters: `fields` maps `requests` or `target` to what to do."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class Plan:
    requests: int
    tag: str  # "" for the Service's own host
    host: str
    configured: dict[str, int]  # revision → percent the Route gives it for this host


def hosts(service: ServiceView) -> dict[str, str]:
    """The hosts a check can ask: "" → the Service's default domain, each tag → its own."""
    found = {"": service.default_domain} if service.default_domain else {}
    for target in service.tagged:
        host = target.url.split("://", 1)[-1].split("/", 1)[0]
        if host:
            found[target.tag] = host
    return found


def configured(service: ServiceView, tag: str) -> dict[str, int]:
    """What the Route sends where, for the Service's host (every target) or one tag's (all to its revision)."""
    shares: Counter[str] = Counter()
    for target in service.status_traffic:
        if tag and target.tag == tag:
            return {target.revision_name: 100}
        if not tag and target.revision_name:
            shares[target.revision_name] += target.percent
    return dict(shares)


def plan(service: ServiceView, requests: str, tag: str) -> Plan:
    """The check's parameters as typed, checked; CheckError says what to change."""
    problems: dict[str, str] = {}
    count = whole(requests.strip().replace(",", ""), MAX_REQUESTS)
    if not count:
        problems["requests"] = f"Enter a number of requests from 1 to {MAX_REQUESTS:,}."
    known = hosts(service)
    if tag not in known:
        problems["target"] = ("This Service has no URL to check yet." if not known else
                              f'The Service has no tag "{tag[:63]}"; choose one of the hosts listed.')
    if problems:
        raise CheckError(problems)
    return Plan(count or 0, tag, known[tag], configured(service, tag))


@dataclass(frozen=True)
class Answer:
    status: int  # 0 when there was no answer
    revision: str = ""  # the X-Knative-Revision header, "" when absent
    body: str = ""
    error: str = ""  # why there was no answer


@dataclass(frozen=True)
class Row:
    label: str
    configured: int | None  # percent; None for a group that is not a revision
    count: int
    share: float  # percent of the answers counted

    @property
    def difference(self) -> float | None:
        return None if self.configured is None else self.share - self.configured


@dataclass
class Tally:
    """The answers so far."""

    plan: Plan
    service: str
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (revision or "", group) → answers
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def add(self, answer: Answer) -> None:
        self.sent += 1
        if answer.status == 0:
            self.errors[answer.error or "no answer"] += 1
        elif answer.revision:
            self.counts[(answer.revision, "")] += 1
        else:
            self.counts[("", f"{answer.status} {answer.body.strip()[:BODY_SHOWN]}")] += 1

    @property
    def answered(self) -> int:
        return sum(self.counts.values())

    @property
    def attributed(self) -> bool:
        """Whether the gateway names the revision that answered."""
        return any(revision for revision, _ in self.counts)

    def rows(self) -> list[Row]:
        """Every configured revision (observed or not), then every other group, largest first."""
        answered = self.answered or 1
        revisions = {revision: count for (revision, _), count in self.counts.items() if revision}
        names = list(self.plan.configured) + sorted(set(revisions) - set(self.plan.configured))
        rows = [Row(short_name(name, self.service), self.plan.configured.get(name), revisions.get(name, 0),
                    100 * revisions.get(name, 0) / answered) for name in names]
        others = sorted(((group, count) for (revision, group), count in self.counts.items() if not revision),
                        key=lambda pair: -pair[1])
        return rows + [Row(group, None, count, 100 * count / answered) for group, count in others]


def curl_loop(gateway: str, host: str, requests: int) -> str:
    """The same check in a terminal, as the README shows it."""
    return (f'for i in $(seq {requests}); do curl -s -H "Host: {host}" http://{gateway}; echo; done '
            "| sort | uniq -c")


def worst(rows: Sequence[Row]) -> float:
    """The largest gap between a configured and an observed share, in points."""
    return max((abs(r.difference) for r in rows if r.difference is not None), default=0.0)
