"""The revision page's events (app.web.revision_page, built from the objects as read): warnings from before the
revision last became Ready are marked as overcome; later ones, and all of a revision that is not Ready, are not."""

from __future__ import annotations

from typing import Any

from app.web.evidence import Listing
from app.web.revision_page import revision_page

NS = "team"


def _revision(ready: str, since: str) -> dict[str, Any]:
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
            "metadata": {"name": "web-00001", "namespace": NS, "uid": "u1", "generation": 1,
                         "creationTimestamp": "2026-12-03T07:00:00Z",
                         "labels": {"serving.knative.dev/service": "web",
                                    "serving.knative.dev/configurationGeneration": "1"}},
            "spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]},
            "status": {"observedGeneration": 1, "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": since}]}}


SERVICE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": NS, "uid": "s1", "generation": 1, "resourceVersion": "5",
                        "creationTimestamp": "2026-12-03T07:00:00Z"},
           "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]}},
                    "traffic": [{"latestRevision": True, "percent": 100}]},
           "status": {"observedGeneration": 1, "latestCreatedRevisionName": "web-00001",
                      "latestReadyRevisionName": "web-00001",
                      "traffic": [{"revisionName": "web-00001", "latestRevision": True, "percent": 100}]}}


def _warning(reason: str, at: str) -> dict[str, Any]:
    return {"type": "Warning", "reason": reason, "message": f"{reason} at {at}", "count": 1, "lastTimestamp": at,
            "involvedObject": {"kind": "ReplicaSet", "name": f"web-00001-deployment-{reason.lower()}"},
            "source": {"component": "replicaset-controller"}}


EVENTS = [_warning("Early", "2026-12-03T07:59:59Z"), _warning("Late", "2026-12-03T08:00:01Z"),
          _warning("Same", "2026-12-03T08:00:00.400000Z"),
          {**_warning("Normal", "2026-12-03T07:30:00Z"), "type": "Normal"}]


def test_warnings_from_before_the_revision_became_ready_are_marked() -> None:
    page = revision_page(NS, SERVICE, [_revision("True", "2026-12-03T08:00:00Z")], "web-00001", EVENTS, Listing([]))
    marked = {e.title: page.before_ready(e) for e in page.events}
    assert marked == {"Early": True, "Late": False, "Normal": False, "Same": True}  # whole seconds: same one, before


def test_nothing_is_marked_while_the_revision_is_not_ready_or_its_time_is_unknown() -> None:
    for ready, since in (("False", "2026-12-03T08:00:00Z"), ("Unknown", "2026-12-03T08:00:00Z"), ("True", ""),
                         ("True", "not a time")):
        page = revision_page(NS, SERVICE, [_revision(ready, since)], "web-00001", EVENTS, Listing([]))
        assert not any(page.before_ready(e) for e in page.events), (ready, since)
