"""Kubernetes' Deployment and ReplicaSet controllers, as far as a revision's Deployment needs them: one ReplicaSet per
pod template (named `<deployment>-<pod-template-hash>`), scaled to the Deployment's replicas, with the statuses,
conditions and events kube-controller-manager writes."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime
from typing import Any

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.objects import generate_name
from app.devcluster.apiserver.resources import DEPLOYMENT, POD, REPLICASET
from app.devcluster.controllers.context import MANAGER, Context, condition, controller_reference, owned
from app.devcluster.controllers.labels import LABEL_POD_TEMPLATE_HASH

DEPLOYMENT_CONTROLLER = "deployment-controller"
REPLICASET_CONTROLLER = "replicaset-controller"
REPLICA_FAILURE = "ReplicaFailure"  # apps/v1 ReplicaSetReplicaFailure and DeploymentReplicaFailure
FAILED_CREATE = "FailedCreate"  # controller_utils.go FailedCreatePodReason, replica_set_utils.go's condition reason
RETRY_MAX = 30.0  # seconds: the longest wait before a ReplicaSet tries again to create a pod it was refused
BURST_REPLICAS = 500  # kubernetes pkg/controller/replicaset/replica_set.go BurstReplicas
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery's rand.SafeEncodeString alphabet


def template_hash(template: dict[str, Any]) -> str:
    """A pod-template-hash in Kubernetes' form: the decimal of a 32-bit FNV-1a hash, each digit made safe.

    Kubernetes hashes its Go struct dump, so the value differs from kube-controller-manager's; its shape is the same.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(value))


def _without_hash(template: Any) -> Any:
    if not isinstance(template, dict):
        return template
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != LABEL_POD_TEMPLATE_HASH}
    metadata.pop("labels", None)
    if labels:
        metadata["labels"] = labels
    return {**template, "metadata": metadata}


def find_new_replicaset(deployment: dict[str, Any], replicasets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ReplicaSet whose pod template is the Deployment's, the pod-template-hash label aside; the oldest if more
    than one (kube's deployment_util.go FindNewReplicaSet and EqualIgnoreHash). Found so, the hash is computed only
    to name a new one."""
    wanted = _without_hash((deployment.get("spec") or {}).get("template") or {})
    ordered = sorted(replicasets, key=lambda rs: (rs["metadata"].get("creationTimestamp") or "",
                                                   rs["metadata"]["name"]))
    return next((rs for rs in ordered if _without_hash((rs.get("spec") or {}).get("template") or {}) == wanted),
                None)


def _failure(obj: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == REPLICA_FAILURE
                 and c.get("status") == "True"), None)


def replica_failure(deployment: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Deployment's ReplicaFailure condition while it is True: a pod its ReplicaSet could not create."""
    return _failure(deployment) if deployment is not None else None


def replicas_of(obj: dict[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and value >= 0 else 1


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions if isinstance(c, dict))


def _desired_replicaset(deployment: dict[str, Any], name: str, pod_hash: str, replicas: int) -> dict[str, Any]:
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[LABEL_POD_TEMPLATE_HASH] = pod_hash
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[LABEL_POD_TEMPLATE_HASH] = pod_hash
    labels = dict(template["metadata"]["labels"])
    return {
        "apiVersion": REPLICASET.api_version, "kind": REPLICASET.kind,
        "metadata": {
            "name": name, "namespace": meta["namespace"], "labels": labels,
            "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(replicas + max(1, -(-replicas // 4))),
                            "deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [controller_reference(deployment)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }


def reconcile_deployment(ctx: Context, namespace: str, name: str) -> None:
    deployment = ctx.get(DEPLOYMENT, namespace, name)
    if deployment is None or deployment["metadata"].get("deletionTimestamp"):
        return
    replicas = replicas_of(deployment)
    replicasets = owned(ctx, REPLICASET, deployment)
    current = find_new_replicaset(deployment, replicasets)
    created = False
    if current is None:
        pod_hash = template_hash((deployment.get("spec") or {}).get("template") or {})
        new_name = f"{name}-{pod_hash}"
        # One named so already (its template differs only by what the API server defaulted): take it, as kube's
        # getNewReplicaSet takes the existing one when its create finds the name taken, rather than make another.
        current = next((rs for rs in replicasets if rs["metadata"]["name"] == new_name), None)
        if current is None:
            current = ctx.write(REPLICASET, _desired_replicaset(deployment, new_name, pod_hash, replicas), None)
            if current is None:
                return
            created = True
            _scaled(ctx, deployment, new_name, 0, replicas)
    current_name = current["metadata"]["name"]
    if not created and replicas_of(current) != replicas:
        _scaled(ctx, deployment, current_name, replicas_of(current), replicas)
        new = copy.deepcopy(current)
        new["spec"]["replicas"] = replicas
        new["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        current = ctx.write(REPLICASET, new, current) or current
    # A changed template: the old ReplicaSets go down as the new one's pods become available, so that no more than
    # maxUnavailable of the replicas are ever missing (rolling.go reconcileOldReplicaSets; Knative's Deployments say 0,
    # and maxSurge 100%, which is why the new ReplicaSet gets all its replicas at once); with Recreate, at once.
    keep = max(0, replicas - _max_unavailable(deployment, replicas)
               - int((current.get("status") or {}).get("availableReplicas") or 0))
    olds = [rs for rs in replicasets if rs["metadata"]["name"] != current_name]
    for old in sorted(olds, key=lambda rs: str(rs["metadata"].get("creationTimestamp") or ""), reverse=True):
        target = min(replicas_of(old), keep)  # the newest of the old ones keep theirs longest
        keep -= target
        if target < replicas_of(old):
            _scaled(ctx, deployment, old["metadata"]["name"], replicas_of(old), target)
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = target
            ctx.write(REPLICASET, new, old)
    _deployment_status(ctx, deployment, current, created)


def _max_unavailable(deployment: dict[str, Any], replicas: int) -> int:
    """How many of the replicas a rollout may leave unavailable: all with Recreate; RollingUpdate's maxUnavailable,
    a number or a percentage rounded down (25% when unset, as the API server defaults it)."""
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return replicas
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return replicas * int(value[:-1]) // 100
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else replicas // 4


def _scaled(ctx: Context, deployment: dict[str, Any], replicaset: str, before: int, after: int) -> None:
    way = "up" if after > before else "down"
    ctx.record(deployment, "ScalingReplicaSet", f"Scaled {way} replica set {replicaset} from {before} to {after}",
               component=DEPLOYMENT_CONTROLLER)


def _deployment_status(ctx: Context, deployment: dict[str, Any], replicaset: dict[str, Any], created: bool) -> None:
    replicas = replicas_of(deployment)
    rs_status = replicaset.get("status") or {}
    ready = int(rs_status.get("readyReplicas") or 0)
    available = int(rs_status.get("availableReplicas") or 0)
    have = int(rs_status.get("replicas") or 0)
    previous = (deployment.get("status") or {}).get("conditions") or []
    stamp = ctx.now()
    name = replicaset["metadata"]["name"]
    if available >= replicas - replicas // 4:  # the default maxUnavailable, 25% rounded down
        availability = condition("Available", "True", stamp, "MinimumReplicasAvailable",
                                 "Deployment has minimum availability.", previous, updated=True)
    else:
        availability = condition("Available", "False", stamp, "MinimumReplicasUnavailable",
                                 "Deployment does not have minimum availability.", previous, updated=True)
    before = deployment.get("status") or {}
    progressed = have > int(before.get("updatedReplicas") or 0) or ready > int(before.get("readyReplicas") or 0) \
        or available > int(before.get("availableReplicas") or 0)  # deployment_util.go DeploymentProgressing
    current = next((c for c in previous if isinstance(c, dict) and c.get("type") == "Progressing"), None)
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    if created:
        progress = condition("Progressing", "True", stamp, "NewReplicaSetCreated", f'Created new replica set "{name}"',
                             previous, updated=True)
    elif available >= replicas and have == replicas:
        progress = condition("Progressing", "True", stamp, "NewReplicaSetAvailable",
                             f'ReplicaSet "{name}" has successfully progressed.', previous, updated=True)
    elif not progressed and current is not None and _timed_out(current, deadline, time.time()):
        # progress.go syncRolloutStatus: no progress within progressDeadlineSeconds of the Progressing condition's
        # lastUpdateTime (deployment_util.go DeploymentTimedOut; its TimedOutReason).
        progress = condition("Progressing", "False", stamp, "ProgressDeadlineExceeded",
                             f'ReplicaSet "{name}" has timed out progressing.', previous, updated=True)
    else:
        progress = condition("Progressing", "True", stamp, "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.',
                             previous, updated=True)
        if progressed:
            progress["lastUpdateTime"] = stamp  # progress seen: only lastUpdateTime moves on
        if isinstance(deadline, int) and deadline > 0:
            # requeueStuckDeployment: look again when the deadline would pass without progress.
            due = _wall(str(progress.get("lastUpdateTime") or stamp)) + deadline - time.time()
            ctx.schedule((DEPLOYMENT.key, deployment["metadata"]["namespace"], deployment["metadata"]["name"]),
                         max(due, 0.0) + 0.05)
    conditions = [availability, progress]
    failure = _failure(replicaset)
    if failure is not None:
        # progress.go syncRolloutStatus: a ReplicaSet's ReplicaFailure moves to the Deployment (getReplicaFailures,
        # util.ReplicaSetToDeploymentCondition: its lastTransitionTime is the lastUpdateTime too), and goes with it.
        known = next((c for c in previous if isinstance(c, dict) and c.get("type") == REPLICA_FAILURE), None)
        same = known is not None and (known.get("status"), known.get("reason")) == (failure.get("status"),
                                                                                   failure.get("reason"))
        conditions.append(known if same and known is not None else {
            "type": REPLICA_FAILURE, "status": failure.get("status", "True"),
            "lastUpdateTime": failure.get("lastTransitionTime", stamp),
            "lastTransitionTime": failure.get("lastTransitionTime", stamp),
            "reason": failure.get("reason", ""), "message": failure.get("message", "")})
    status: dict[str, Any] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": have, "updatedReplicas": have, "readyReplicas": ready, "availableReplicas": available,
        "conditions": conditions,
    }
    if have - available > 0:
        status["unavailableReplicas"] = have - available
    status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}  # Go's omitempty
    ctx.write_status(DEPLOYMENT, deployment, status)


def _wall(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _timed_out(current: dict[str, Any], deadline: Any, now: float) -> bool:
    """deployment_util.go DeploymentTimedOut: a deadline set, a rollout not complete (NewReplicaSetAvailable), and
    either timed out already or no update of the Progressing condition for progressDeadlineSeconds."""
    if not isinstance(deadline, int) or deadline <= 0 or current.get("reason") == "NewReplicaSetAvailable":
        return False
    if current.get("reason") == "ProgressDeadlineExceeded":
        return True
    return _wall(str(current.get("lastUpdateTime") or "")) + deadline < now


def _new_pod(replicaset: dict[str, Any]) -> dict[str, Any]:
    meta = replicaset["metadata"]
    template = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("resources", {})
    pod_meta: dict[str, Any] = {
        "name": generate_name(f"{meta['name']}-"), "namespace": meta["namespace"],
        "labels": dict(template_meta.get("labels") or {}),
        "ownerReferences": [controller_reference(replicaset)],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _create_pods(ctx: Context, replicaset: dict[str, Any], count: int) -> tuple[int, ApiError | None]:
    """Create up to `count` pods of the ReplicaSet, stopping at the first the API server refuses: how many it made,
    and the refusal."""
    key = (REPLICASET.key, replicaset["metadata"]["namespace"], replicaset["metadata"]["name"])
    for made in range(count):
        try:
            pod = ctx.rest.system_write(POD, _new_pod(replicaset), None, MANAGER)
        except ApiError as error:
            # controller_utils.go createPods: a Warning event "Error creating: <the API server's error>", and the
            # rest of this batch not tried (slowStartBatch skips the batches after it); the ReplicaSet is requeued
            # with a growing back-off, and looked at again when a quota or a limit range of its namespace changes
            # (its pods' deletions change the quota's usage).
            if error.reason != "NotFound" and "is being terminated" not in error.message:
                ctx.record(replicaset, FAILED_CREATE, f"Error creating: {error.message}", kind="Warning",
                           component=REPLICASET_CONTROLLER)
            tries = ctx.create_failures.get(key, 0)
            ctx.create_failures[key] = tries + 1
            ctx.schedule(key, min(RETRY_MAX, 2.0**tries))
            return made, error
        ctx.record(replicaset, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                   component=REPLICASET_CONTROLLER)
    ctx.create_failures.pop(key, None)
    return count, None


def reconcile_replicaset(ctx: Context, namespace: str, name: str) -> None:
    key = (REPLICASET.key, namespace, name)
    replicaset = ctx.get(REPLICASET, namespace, name)
    if replicaset is None or replicaset["metadata"].get("deletionTimestamp"):
        ctx.create_failures.pop(key, None)
        return
    uid = replicaset["metadata"]["uid"]
    refused: ApiError | None = None
    sync = ctx.replica_syncs.get(uid)
    if sync is not None:
        # The sync's next slow-start batch; the loop (and so the API server) had its turn since the last one.
        left, batch = sync
        made, refused = _create_pods(ctx, replicaset, min(left, batch))
        if refused is None and left > made:
            ctx.replica_syncs[uid] = (left - made, batch * 2)
            ctx.schedule(key, 0.0)
            return
        del ctx.replica_syncs[uid]  # the sync's creates are done (or one was refused: slowStartBatch skips the rest)
    wanted = replicas_of(replicaset)
    pods = owned(ctx, POD, replicaset)
    if wanted > len(pods) and sync is None:
        # manageReplicas: at most BURST_REPLICAS pods a sync, made in slow-start batches of 1, 2, 4, ...
        # (SlowStartInitialBatchSize), each batch one turn of the loop; the status follows once the sync is done.
        left = min(wanted - len(pods), BURST_REPLICAS)
        made, refused = _create_pods(ctx, replicaset, 1)
        if made == 1 and left > 1:
            ctx.replica_syncs[uid] = (left - 1, 2)
            ctx.schedule(key, 0.0)
            return
        pods = owned(ctx, POD, replicaset)
    if len(pods) > wanted:
        # As the ReplicaSet controller ranks them: pods not ready yet go first, then the newest.
        pods.sort(key=lambda p: (not is_ready(p), p["metadata"].get("creationTimestamp", "")))
        for _ in range(min(len(pods) - wanted, BURST_REPLICAS)):
            pod = pods.pop()
            ctx.delete(POD, pod)
            ctx.logs.forget(namespace, pod["metadata"]["name"])
            ctx.record(replicaset, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                       component=REPLICASET_CONTROLLER)
    ready = sum(1 for p in pods if is_ready(p))
    status: dict[str, Any] = {
        "replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
        "observedGeneration": replicaset["metadata"].get("generation", 1)}
    status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
    # replica_set_utils.go calculateStatus: the first refusal sets ReplicaFailure (FailedCreate, the error's text) and
    # it stays as it is while creating keeps failing; a round without error removes it.
    failure = _failure(replicaset)
    if refused is not None:
        status["conditions"] = [failure or {"type": REPLICA_FAILURE, "status": "True",
                                            "lastTransitionTime": ctx.now(), "reason": FAILED_CREATE,
                                            "message": refused.message}]
    ctx.write_status(REPLICASET, replicaset, status)

