"""What reconcilers work with: the store, writes, Events, timers and the clock, and owner references."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.podlogs import ContainerLogs
from app.devcluster.apiserver.resources import CONFIGMAP, EVENT, ResourceDef
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.store import Store
from app.devcluster.controllers import config
from app.devcluster.controllers.correlator import Correlator

log = logging.getLogger("devcluster.controller")
MANAGER = "controller"
Key = tuple[str, str, str]  # (resource key, namespace, name)


@dataclass
class Context:
    """What reconcilers may use: the store, writes, events, timers and the clock."""

    rest: Rest
    start_delay: float  # a new revision's containers take this long to start
    schedule: Callable[[Key, float], None]
    cold_start_delay: float = 1.0  # ... and those of a revision that had been Ready before (scaled up again)
    logs: ContainerLogs = field(default_factory=ContainerLogs)
    settings: config.Settings = field(default_factory=config.Settings)
    last_event_nanos: int = 0
    events: Correlator = field(default_factory=Correlator)  # what every recorder of the dev cluster goes through
    create_failures: dict[Key, int] = field(default_factory=dict)  # ReplicaSets refused a pod: tries so far
    # ReplicaSet uid → (pods its current sync has still to create, the next slow-start batch's size)
    replica_syncs: dict[str, tuple[int, int]] = field(default_factory=dict)

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def store(self) -> Store:
        return self.rest.store

    def now(self) -> str:
        return self.rest.now()

    def get(self, resource: ResourceDef, namespace: str, name: str) -> dict[str, Any] | None:
        return self.rest.store.get(resource.key, namespace, name)

    def indexed(self, resource: ResourceDef, index: str, value: str, namespace: str) -> list[dict[str, Any]]:
        """The objects an index of the store finds under `value` in one namespace."""
        store = self.rest.store
        found = (store.load(resource.key, key) for key in store.indexed(resource.key, index, value, namespace))
        return [obj for obj in found if obj is not None]

    def write(
        self, resource: ResourceDef, new: dict[str, Any], old: dict[str, Any] | None, subresource: str = ""
    ) -> dict[str, Any] | None:
        try:
            return self.rest.system_write(resource, new, old, MANAGER, subresource)
        except ApiError as error:
            # A concurrent user write won the race, or the namespace is going away: the
            # change feed brings the object back for another pass.
            log.info("%s %s/%s: %s", resource.kind, new["metadata"].get("namespace"), new["metadata"].get("name"),
                     error.message)
            return None

    def write_status(
        self, resource: ResourceDef, obj: dict[str, Any], status: dict[str, Any]
    ) -> dict[str, Any] | None:
        if obj.get("status") == status:
            return obj
        # A status write takes only the status (and the identity in metadata) from what it is sent: no deep copy.
        return self.write(resource, {**obj, "metadata": dict(obj["metadata"]), "status": status}, obj, "status")

    def delete(self, resource: ResourceDef, obj: dict[str, Any]) -> None:
        try:
            self.rest.system_delete(resource, obj)
        except ApiError as error:
            log.info("could not delete %s %s: %s", resource.kind, obj["metadata"].get("name"), error.message)

    def autoscaler_config(self) -> config.AutoscalerConfig:
        return self.settings.autoscaler(self.rest.store.get(CONFIGMAP.key, config.KNATIVE_NAMESPACE, config.AUTOSCALER))

    def images(self) -> config.Images:
        return self.settings.images(self.rest.store.get(CONFIGMAP.key, config.DEVCLUSTER_NAMESPACE, config.IMAGES))

    def deployment_config(self) -> config.DeploymentConfig:
        """config-deployment (the last valid one; Knative's defaults without the ConfigMap)."""
        return self.settings.deployment(self.rest.store.get(CONFIGMAP.key, config.KNATIVE_NAMESPACE,
                                                            config.DEPLOYMENT))

    def progress_deadline(self) -> int:
        """config-deployment's progress-deadline in seconds (the last valid one; 600 without the ConfigMap)."""
        return self.settings.progress_deadline(self.rest.store.get(CONFIGMAP.key, config.KNATIVE_NAMESPACE,
                                                                   config.DEPLOYMENT))

    def rollout_seconds(self) -> int:
        """config-network's rollout-duration (the last valid one)."""
        return self.settings.rollout_seconds(self.rest.store.get(CONFIGMAP.key, config.KNATIVE_NAMESPACE,
                                                                 config.NETWORK))

    def record(self, involved: dict[str, Any], reason: str, message: str, kind: str = "Normal",
               component: str = "", host: str = "", field_path: str = "") -> dict[str, Any] | None:
        """A core v1 Event about `involved`, as Knative's controllers (or the component named) record them (about one
        of a pod's containers with `field_path`, e.g. `spec.containers{queue-proxy}`), through client-go's event
        correlator (app.devcluster.controllers.correlator: the same Event again counted, similar ones combined, a
        source's flood about one object dropped); the Event written, or None."""
        metadata = involved["metadata"]
        stamp = self.now()
        # As Knative names its controllers, unless another part of the cluster (kubelet, a Kubernetes controller).
        component = component or f"{str(involved.get('kind', '')).lower()}-controller"
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self._event_name(metadata["name"]), "namespace": metadata["namespace"]},
            "involvedObject": {
                "kind": involved["kind"], "namespace": metadata["namespace"], "name": metadata["name"],
                "uid": metadata.get("uid", ""), "apiVersion": involved["apiVersion"],
                "resourceVersion": metadata.get("resourceVersion", ""),
                **({"fieldPath": field_path} if field_path else {}),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        correlated = self.events.correlate(event, lambda: self._event_name(metadata["name"]))
        if correlated is None:
            return None  # the spam filter's: this source said enough about this object lately
        event = correlated.event
        # recordToSink: an Event seen before is patched (its count, lastTimestamp and message); created anew when it
        # is gone meanwhile.
        old = self.get(EVENT, metadata["namespace"], event["metadata"]["name"]) if correlated.update else None
        try:
            if old is not None:
                written = self.rest.system_write(EVENT, {**old, "metadata": dict(old["metadata"]),
                                                         "count": event["count"], "message": event["message"],
                                                         "lastTimestamp": event["lastTimestamp"]}, old, MANAGER)
            else:
                written = self.rest.system_write(EVENT, event, None, MANAGER)
        except ApiError as error:
            log.info("could not record event %s: %s", message, error.message)
            return None
        self.events.written(correlated.key, written)
        return written

    def quiet_for(self, involved: dict[str, Any], component: str, host: str = "") -> float:
        """Seconds until the spam filter lets `component` record another Event about `involved` (0: now)."""
        metadata = involved["metadata"]
        return self.events.allowed_in({
            "source": {"component": component, "host": host},
            "involvedObject": {"kind": involved["kind"], "namespace": metadata["namespace"], "name": metadata["name"],
                               "uid": metadata.get("uid", ""), "apiVersion": involved["apiVersion"]}})

    def _event_name(self, involved: str) -> str:
        """client-go's `<object>.<hex of UnixNano>` (record.makeEvent), so names sort in time order per object."""
        self.last_event_nanos = max(time.time_ns(), self.last_event_nanos + 1)  # unique even within one tick
        return f"{involved}.{self.last_event_nanos:x}"


def controller_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(
        isinstance(r, dict) and r.get("controller") and r.get("uid") == owner["metadata"]["uid"]
        for r in obj["metadata"].get("ownerReferences") or []
    )


def owned(ctx: Context, resource: ResourceDef, owner: dict[str, Any]) -> list[dict[str, Any]]:
    """The live objects of `resource` that `owner` controls."""
    return [obj for key, obj in ctx.store.dependents(owner["metadata"]["uid"])
            if key == resource.key and controlled_by(obj, owner) and not obj["metadata"].get("deletionTimestamp")]


def condition(kind: str, status: str, stamp: str, reason: str = "", message: str = "",
              previous: list[dict[str, Any]] | None = None, probe: bool = False,
              updated: bool = False) -> dict[str, Any]:
    """A Kubernetes condition (pods, deployments), keeping its lastTransitionTime while its status holds."""
    old = next((c for c in previous or [] if isinstance(c, dict) and c.get("type") == kind), None)
    entry: dict[str, Any] = {"type": kind, "status": status}
    if probe:
        entry["lastProbeTime"] = None
    if updated:
        same = old is not None and (old.get("status"), old.get("reason"), old.get("message")) == \
            (status, reason, message)
        entry["lastUpdateTime"] = old.get("lastUpdateTime", stamp) if same and old else stamp
    entry["lastTransitionTime"] = old["lastTransitionTime"] if old and old.get("status") == status and \
        old.get("lastTransitionTime") else stamp
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    return entry
