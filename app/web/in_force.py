"""The traffic in force, as the Split Traffic dialog shows it beside the rows the user types in: each row's "Now"
(app.knative.traffic.now_of), the split before OK in words, and the notes about a held split or a gradual rollout.

The pages the dialog opens from (a Service's details, a revision's page, the history) render it as a hidden region
of their own, `split`, which their live stream sends again when it changes; while the dialog is open, the page's
script copies it into the dialog's Now column and notes, and leaves the rows the user typed as they are (app.js)."""

from __future__ import annotations

from dataclasses import dataclass

from app.knative import traffic
from app.knative.diagnosis import HeldSplit, held_split
from app.knative.models import ServiceView
from app.knative.naming import short_name
from app.knative.rollout import RolloutProgress, rollout_progress
from app.web.regions import Region

REGION = Region("split", "_split_now.html")


def row_key(kind: str, revision: str) -> str:
    """How the dialog's rows and the region's entries know each other: `latest`, or `named:` and the revision."""
    return traffic.LATEST if kind == traffic.LATEST else f"{kind}:{revision}"


@dataclass(frozen=True)
class Floating:
    """A traffic form's latest-revision row: where its share goes now."""

    revision: str  # the revision the floating entry serves now, or the one a gradual rollout brings in ("": none ready)
    rolling: str  # during a gradual rollout, where its share goes, in words ("" otherwise)
    short: str  # how the split in words names it ("latest ready revision (now 00002)")

    @property
    def label(self) -> str:
        return self.rolling or self.revision


@dataclass(frozen=True)
class InForce:
    before: str  # the split now, as routed, in words ("" when there is none)
    nows: tuple[tuple[str, traffic.Now], ...]  # row_key → what such a row gets now; a row not here gets 0%
    held: HeldSplit | None
    rolling: RolloutProgress | None
    floating: Floating


def floating_now(service: ServiceView) -> Floating:
    progress = rollout_progress(service)
    revision = progress.revision if progress else traffic.floating_revision(service)
    share = traffic.Share(short_name(revision, service.name), 0, floating=True, rolling=progress is not None)
    return Floating(revision, progress.in_words if progress else "", traffic.share_label(share))


def in_force(service: ServiceView) -> InForce:
    held = held_split(service)
    routed = traffic.routed_now(service, held=held is not None)
    keys = [row_key(traffic.LATEST, "")] if any(t.latest_revision for t in routed) else []
    keys += [row_key(traffic.NAMED, t.revision_name) for t in routed if t.revision_name]
    nows = {key: traffic.now_of(routed, *(key.split(":", 1) if ":" in key else (key, ""))) for key in keys}
    return InForce(traffic.describe(traffic.shares(routed, service.name)), tuple(nows.items()), held,
                   rollout_progress(service), floating_now(service))
