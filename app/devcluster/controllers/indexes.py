"""What the controllers (and the console) find Knative objects by, indexed by the store: the owner labels, and
the revisions and configurations each Route's traffic names, so that no change makes them scan a namespace."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.resources import POD
from app.devcluster.apiserver.store import Store
from app.devcluster.controllers.labels import LABEL_CONFIGURATION, LABEL_REVISION, LABEL_ROUTE, LABEL_SERVICE
from app.devcluster.crds.resources import KNATIVE_RESOURCES, ROUTE

SPEC_TRAFFIC = "spec.traffic"  # "revision/<name>" and "configuration/<name>" of a Route's spec
STATUS_TRAFFIC = "status.traffic"  # revision names a Route's status sends traffic to


def spec_traffic(route: dict[str, Any]) -> list[str]:
    values = []
    for target in _targets(route, "spec"):
        if isinstance(target.get("revisionName"), str):
            values.append(f"revision/{target['revisionName']}")
        if isinstance(target.get("configurationName"), str):
            values.append(f"configuration/{target['configurationName']}")
    return values


def status_traffic(route: dict[str, Any]) -> list[str]:
    return [t["revisionName"] for t in _targets(route, "status") if isinstance(t.get("revisionName"), str)]


def _targets(route: dict[str, Any], part: str) -> list[dict[str, Any]]:
    section = route.get(part)
    traffic = section.get("traffic") if isinstance(section, dict) else None
    return [t for t in traffic if isinstance(t, dict)] if isinstance(traffic, list) else []


def add_indexes(store: Store) -> None:
    for resource in KNATIVE_RESOURCES:
        for label in (LABEL_SERVICE, LABEL_CONFIGURATION, LABEL_ROUTE):
            store.add_label_index(resource.key, label)
    store.add_label_index(POD.key, LABEL_REVISION)
    store.add_index(ROUTE.key, SPEC_TRAFFIC, spec_traffic)
    store.add_index(ROUTE.key, STATUS_TRAFFIC, status_traffic)
