"""Revision → its image digests, its Deployment `<revision>-deployment`, its Kubernetes Services, and a status that
follows what its pods and the autoscaler say, as knative/serving `pkg/reconciler/revision` does.

The dev cluster runs no containers, and `devcluster-system/images` stands in for the registry: an image it lists under
`unresolvable` gets no digest (ContainerMissing, and no Deployment); one listed under `failing` gets a Deployment whose
pods crash-loop (ExitCode<N>); one listed under `unready` gets a Deployment whose pods run but never become ready, until
its progress deadline fails it (ProgressDeadlineExceeded). Each verdict is taken when the revision is first reconciled
and then kept: later edits of the ConfigMap apply to revisions created afterwards, and no reconcile turns a failure
back into success.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from app.devcluster.admission.goparse import RangeError, parse_duration
from app.devcluster.admission.validation_meta import PROGRESS_DEADLINE as PROGRESS_DEADLINE_KEYS
from app.devcluster.admission.validation_meta import QUEUE_ANNOTATION_PREFIX, QUEUE_RESOURCE_KEYS, first_key
from app.devcluster.apiserver.indexes import label_index
from app.devcluster.apiserver.quantity import canonical_text, quantity_error
from app.devcluster.apiserver.resources import DEPLOYMENT, POD
from app.devcluster.controllers import conditions, networking
from app.devcluster.controllers.autoscaler import TIMED_OUT, Autoscaler
from app.devcluster.controllers.config import PROGRESS_DEADLINE, DeploymentConfig
from app.devcluster.controllers.context import Context, controller_reference
from app.devcluster.controllers.deployment import is_ready, replica_failure, replicas_of
from app.devcluster.controllers.indexes import STATUS_TRAFFIC
from app.devcluster.controllers.kubelet import QUEUE_PROXY, USER_CONTAINER
from app.devcluster.controllers.labels import (
    ANNOTATION_ROUTES,
    ANNOTATION_ROUTING_MODIFIED,
    ANNOTATION_SIMULATED_EXIT,
    ANNOTATION_SIMULATED_UNREADY,
    LABEL_APP,
    LABEL_CONFIGURATION,
    LABEL_REVISION,
    LABEL_REVISION_UID,
    LABEL_ROUTE,
    LABEL_ROUTING_STATE,
    LABEL_SERVICE,
)
from app.devcluster.crds.resources import REVISION, ROUTE

DEPLOYING = "Deploying"
CONTAINER_MISSING = "ContainerMissing"
QUEUE_IMAGE = "gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:" + "0" * 64
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"  # v1.ReasonProgressDeadlineExceeded, the Deployment's too
_NOT_COPIED = (LABEL_ROUTING_STATE, LABEL_ROUTE, ANNOTATION_ROUTES, ANNOTATION_ROUTING_MODIFIED)


def image_digest(image: str, pushes: int = 0) -> str:
    """A stable fake digest: the repository with the SHA-256 of the whole image string (and of how many times the tag
    was pushed again, when it was)."""
    if "@" in image:
        return image
    repository = image
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository = image[: len(image) - len(last)] + last.split(":", 1)[0]
    pushed = f"#{pushes}" if pushes else ""
    return f"{repository}@sha256:{hashlib.sha256((image + pushed).encode()).hexdigest()}"


def registry_of(image: str) -> str:
    """The registry go-containerregistry would ask for the image (Docker Hub when the name has no host)."""
    first, sep, _ = image.partition("/")
    return first if sep and ("." in first or ":" in first or first == "localhost") else "index.docker.io"


def unresolvable_message(image: str) -> str:
    # The first part is Knative's (revision_lifecycle.go, background.go); after it, what go-containerregistry's
    # request to a registry host that does not resolve returns (Go's net error text, not in Knative's source).
    registry = registry_of(image)
    return (f'Unable to fetch image "{image}": failed to resolve image to digest: Get "https://{registry}/v2/": '
            f"dial tcp: lookup {registry}: no such host")


def routing(ctx: Context, revision: dict[str, Any]) -> tuple[list[str], int]:
    """Routes whose status sends this revision traffic (at any percent), and the total percent."""
    name = revision["metadata"]["name"]
    routes, percent = [], 0
    for route in ctx.indexed(ROUTE, STATUS_TRAFFIC, name, revision["metadata"]["namespace"]):
        hits = [t for t in (route.get("status") or {}).get("traffic") or [] if t.get("revisionName") == name]
        if hits:
            routes.append(route["metadata"]["name"])
            percent += sum(int(t.get("percent") or 0) for t in hits)
    return sorted(routes), percent


def pods_of(ctx: Context, namespace: str, revision: str) -> list[dict[str, Any]]:
    return [p for p in ctx.indexed(POD, label_index(LABEL_REVISION), revision, namespace)
            if not p["metadata"].get("deletionTimestamp")]


def reconcile(ctx: Context, scaler: Autoscaler, namespace: str, name: str) -> None:
    revision = ctx.get(REVISION, namespace, name)
    if revision is None or revision["metadata"].get("deletionTimestamp"):
        scaler.forget(namespace, name, revision["metadata"]["uid"] if revision else "")
        return
    revision = _sync_routing_labels(ctx, revision)
    previous = revision.get("status") or {}
    healthy = conditions.get(previous.get("conditions") or [], "ContainerHealthy") or {}
    if healthy.get("status") == "False" and healthy.get("reason") == CONTAINER_MISSING:
        return  # the registry's verdict stands
    conds = conditions.ConditionSet(
        previous.get("conditions"), ctx.now(), "Ready", ("ContainerHealthy", "ResourcesAvailable")
    )
    containers = [c for c in (revision.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    digests = previous.get("containerStatuses")
    if not digests:
        images = ctx.images()
        missing = next((str(c.get("image", "")) for c in containers
                        if images.unresolvable_pattern(str(c.get("image", "")))), None)
        if missing is not None:
            message = unresolvable_message(missing)
            conds.set("ContainerHealthy", "False", CONTAINER_MISSING, message)
            conds.set("ResourcesAvailable", "Unknown")
            ctx.write_status(REVISION, revision, {"conditions": conds.result(), "observedGeneration": 1})
            ctx.record(revision, "InternalError", message, kind="Warning")
            return
        digests = [{"name": c.get("name", ""), "imageDigest": image_digest(str(c.get("image", "")),
                                                                          images.pushes(str(c.get("image", ""))))}
                   for c in containers]

    deployment = ctx.get(DEPLOYMENT, namespace, f"{name}-deployment")
    pods = pods_of(ctx, namespace, name)
    ready = sum(1 for pod in pods if is_ready(pod))
    routed = (revision["metadata"].get("labels") or {}).get(LABEL_ROUTING_STATE) != "reserve"
    decision = scaler.decide(revision, ctx.autoscaler_config(), ready,
                             replicas_of(deployment) if deployment else None, routed, ctx.progress_deadline())
    replicas = decision.replicas if decision.replicas is not None else decision.desired
    queue = queue_resources(revision, ctx.deployment_config())
    if deployment is None:
        image = str(_serving(containers).get("image", ""))
        exit_code = ctx.images().exit_code(image)
        unready = exit_code is None and bool(ctx.images().unready_pattern(image))
        deployment = ctx.write(DEPLOYMENT, desired_deployment(revision, digests, replicas, exit_code,
                                                              progress_deadline(revision, ctx.progress_deadline()),
                                                              unready, queue), None)
    else:
        # Knative's revision reconciler makes the Deployment it wants on each pass and updates the one there when they
        # differ: queue-proxy's resources follow config-deployment (a new ReplicaSet, new pods).
        rescaled = decision.replicas is not None and replicas_of(deployment) != decision.replicas
        resized = any(c.get("name") == QUEUE_PROXY and c.get("resources") != queue
                      for c in _pod_containers(deployment))
        if rescaled or resized:
            changed = copy.deepcopy(deployment)
            if rescaled:
                changed["spec"]["replicas"] = decision.replicas
            for container in _pod_containers(changed):
                if container.get("name") == QUEUE_PROXY:
                    container["resources"] = queue
            deployment = ctx.write(DEPLOYMENT, changed, deployment) or deployment
    networking.ensure_revision_services(ctx, revision)

    was_ready = conditions.status_of(revision) == "True"
    exited = _exited(pods, str(_serving(containers).get("name") or USER_CONTAINER)) if not ready else None
    if healthy.get("status") == "False" and str(healthy.get("reason", "")).startswith("ExitCode"):
        conds.set("ContainerHealthy", "False", healthy["reason"], healthy.get("message", ""))
        conds.set("ResourcesAvailable", "Unknown", DEPLOYING)
    elif exited is not None and deployment is not None and replicas_of(deployment) > 0:
        code, message = exited
        conds.set("ContainerHealthy", "False", f"ExitCode{code}", f"Container failed with: {message}")
        conds.set("ResourcesAvailable", "Unknown", DEPLOYING)
    elif (unavailable := _unschedulable(pods, deployment) or _refused(deployment)) is not None:
        # reconcile_resources.go: the Deployment wants pods and has none available, and the first of them cannot be
        # scheduled: ResourcesAvailable False with the pod's reason and message. Else PropagateDeploymentStatus,
        # through TransformDeploymentStatus (which runs before that pod check, so the pod's reason wins): the
        # Deployment's ReplicaFailure (True) is its ReplicaSetReady False, so ResourcesAvailable False with its reason
        # and message (FailedCreate: the API server refused its pods, e.g. a ResourceQuota or a LimitRange); gone once
        # the ReplicaSet creates them. Either is over a ProgressDeadlineExceeded.
        if healthy.get("status") == "True":
            conds.set("ContainerHealthy", "True")
        else:
            conds.set("ContainerHealthy", "Unknown", DEPLOYING)
        conds.set("ResourcesAvailable", "False", *unavailable)
    elif (timed_out := _gave_up(decision.initialized, decision.active[1], deployment)) is not None:
        # ContainerHealthy stays as it was; ResourcesAvailable says why the revision will not become ready.
        if healthy.get("status") == "True":
            conds.set("ContainerHealthy", "True")
        else:
            conds.set("ContainerHealthy", "Unknown", DEPLOYING)
        conds.set("ResourcesAvailable", "False", PROGRESS_DEADLINE_EXCEEDED, timed_out)
    elif decision.initialized:
        conds.set("ContainerHealthy", "True")
        conds.set("ResourcesAvailable", "True")
    else:
        conds.set("ContainerHealthy", "Unknown", DEPLOYING)
        conds.set("ResourcesAvailable", "Unknown", DEPLOYING)
    conds.set("Active", *decision.active, severity=conditions.SEVERITY_INFO)
    status: dict[str, Any] = {
        "actualReplicas": ready,
        "conditions": conds.result(),
        "containerStatuses": digests,
        "desiredReplicas": decision.desired,
        "observedGeneration": revision["metadata"].get("generation", 1),
    }
    written = ctx.write_status(REVISION, revision, status)
    if written is not None and not was_ready and conditions.status_of(written) == "True":
        ctx.record(written, "RevisionReady", "Revision becomes ready upon all resources being ready")
    if decision.recheck is not None:
        ctx.schedule((REVISION.key, namespace, name), decision.recheck + 0.05)


def _gave_up(initialized: bool, active_reason: str, deployment: dict[str, Any] | None) -> str | None:
    """ResourcesAvailable's message for a revision past its progress deadline, else None: Knative's own once its
    autoscaler scaled it to zero for never reaching its initial scale (PropagateAutoscalerStatus; the Deployment,
    complete at zero replicas, then says nothing any more), else the Deployment controller's while the Deployment's
    Progressing is False with ProgressDeadlineExceeded (PropagateDeploymentStatus, through
    TransformDeploymentStatus: its pods did not become available within progressDeadlineSeconds)."""
    if not initialized and active_reason == TIMED_OUT[0]:
        return "Initial scale was never achieved"
    found = conditions.get(((deployment or {}).get("status") or {}).get("conditions") or [], "Progressing") or {}
    if found.get("status") == "False" and found.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return str(found.get("message") or "")
    return None


def _refused(deployment: dict[str, Any] | None) -> tuple[str, str] | None:
    """The Deployment's ReplicaFailure while it is True, as (reason, message): a pod its ReplicaSet could not create."""
    failure = replica_failure(deployment)
    return None if failure is None else (str(failure.get("reason") or ""), str(failure.get("message") or ""))


def _unschedulable(pods: list[dict[str, Any]], deployment: dict[str, Any] | None) -> tuple[str, str] | None:
    """The PodScheduled reason and message of the revision's first pod (by name, as a LIST returns them) when the
    Deployment wants replicas, has none available, and that pod could not be scheduled; else None."""
    if deployment is None or replicas_of(deployment) <= 0 or not pods:
        return None
    if int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
        return None
    first = min(pods, key=lambda p: p["metadata"]["name"])
    for entry in (first.get("status") or {}).get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == "PodScheduled" and entry.get("status") == "False":
            return str(entry.get("reason") or ""), str(entry.get("message") or "")
    return None


def _serving(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return next((c for c in containers if c.get("ports")), containers[0] if containers else {})


def _exited(pods: list[dict[str, Any]], user: str) -> tuple[int, str] | None:
    """The exit code and termination message of the user's container (named `user`) that keeps exiting, from the
    first such pod."""
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for state in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (state.get("lastState") or {}).get("terminated")
            if state.get("name") == user and terminated:
                return int(terminated.get("exitCode") or 0), str(terminated.get("message") or "")
    return None


def deployment_labels(revision: dict[str, Any]) -> dict[str, str]:
    """Knative's makeLabels: the revision's labels (less the routing ones) and the revision's own."""
    meta = revision["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _NOT_COPIED}
    labels[LABEL_REVISION] = meta["name"]
    labels[LABEL_REVISION_UID] = meta["uid"]
    labels.setdefault(LABEL_APP, meta["name"])
    return labels


def progress_deadline(revision: dict[str, Any], configured: int) -> int:
    """The Deployment's progressDeadlineSeconds, as knative/serving's deploy.go sets it: the revision's
    `serving.knative.dev/progress-deadline` annotation (whole seconds, validated by admission), else config-deployment's
    progress-deadline."""
    annotations = (revision.get("metadata") or {}).get("annotations") or {}
    _, value = first_key(annotations, PROGRESS_DEADLINE_KEYS)
    if isinstance(value, str) and value:
        try:
            seconds = parse_duration(value) // 1_000_000_000
        except (ValueError, RangeError):
            return configured  # admission refuses these; an old object may still carry one
        if seconds > 0:
            return min(seconds, 2**31 - 1)
    return configured


def desired_deployment(revision: dict[str, Any], digests: list[dict[str, Any]], replicas: int,
                       exit_code: int | None, deadline: int = PROGRESS_DEADLINE,
                       unready: bool = False, queue: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = revision["metadata"]
    labels = deployment_labels(revision)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED}
    pod_annotations = dict(annotations)
    if exit_code is not None:
        pod_annotations[ANNOTATION_SIMULATED_EXIT] = str(exit_code)
    if unready:
        pod_annotations[ANNOTATION_SIMULATED_UNREADY] = "true"
    return {
        "apiVersion": DEPLOYMENT.api_version, "kind": DEPLOYMENT.kind,
        "metadata": {"name": f"{meta['name']}-deployment", "namespace": meta["namespace"], "labels": labels,
                     "annotations": annotations, "ownerReferences": [controller_reference(revision)]},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {LABEL_REVISION_UID: meta["uid"]}},
            "progressDeadlineSeconds": deadline,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "100%"}},
            "template": {"metadata": {"labels": dict(labels), "annotations": pod_annotations},
                         "spec": _pod_spec(revision, digests, queue)},
        },
    }


def _pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def queue_resources(revision: dict[str, Any], deployment: DeploymentConfig) -> dict[str, Any]:
    """queue-proxy's resources, as knative/serving's queue.go createQueueResources makes them: config-deployment's
    queue-sidecar-* (25m of CPU requested when none is set), then the revision's own
    `queue.sidecar.serving.knative.dev/<resource>-resource-<request|limit>` annotations (validated by admission).
    Not modelled: the resourcePercentage annotation and config-features' queueproxy.resource-defaults."""
    requests, limits = dict(deployment.queue_requests), dict(deployment.queue_limits)
    annotations = (revision.get("metadata") or {}).get("annotations") or {}
    for key in QUEUE_RESOURCE_KEYS:
        value = annotations.get(key)
        if isinstance(value, str) and quantity_error(value) is None:
            resource, _, kind = key.removeprefix(QUEUE_ANNOTATION_PREFIX).rpartition("-resource-")
            (requests if kind == "request" else limits)[resource] = canonical_text(value)
    return {"requests": requests, **({"limits": limits} if limits else {})}


def _pod_spec(revision: dict[str, Any], digests: list[dict[str, Any]],
              queue: dict[str, Any] | None = None) -> dict[str, Any]:
    meta, spec = revision["metadata"], revision.get("spec") or {}
    labels = meta.get("labels") or {}
    by_name = {d.get("name"): d.get("imageDigest") for d in digests}
    containers = []
    port = 8080
    for original in spec.get("containers") or []:
        if not isinstance(original, dict):
            continue
        container = copy.deepcopy(original)
        container["image"] = by_name.get(container.get("name")) or container.get("image", "")
        container.pop("readinessProbe", None)  # queue-proxy probes the container on its behalf
        ports = [p for p in container.get("ports") or [] if isinstance(p, dict)]
        if ports or len(spec.get("containers") or []) == 1:  # the serving container: its port is user-port
            port = int(ports[0].get("containerPort") or 8080) if ports else 8080
            container["ports"] = [{"name": "user-port", "containerPort": port, "protocol": "TCP"}]
            container["env"] = [*(container.get("env") or []), {"name": "PORT", "value": str(port)}]
        container["env"] = [*(container.get("env") or []),
                            {"name": "K_REVISION", "value": meta["name"]},
                            {"name": "K_CONFIGURATION", "value": labels.get(LABEL_CONFIGURATION, "")},
                            {"name": "K_SERVICE", "value": labels.get(LABEL_SERVICE, "")}]
        container.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
        container["lifecycle"] = {"preStop": {"httpGet": {"path": "/wait-for-drain", "port": 8022}}}
        containers.append(container)
    containers.append({
        "name": QUEUE_PROXY, "image": QUEUE_IMAGE,
        "ports": [{"name": "http-queueadm", "containerPort": 8022, "protocol": "TCP"},
                  {"name": "http-autometric", "containerPort": 9090, "protocol": "TCP"},
                  {"name": "http-usermetric", "containerPort": 9091, "protocol": "TCP"},
                  {"name": "queue-port", "containerPort": 8012, "protocol": "TCP"},
                  {"name": "https-port", "containerPort": 8112, "protocol": "TCP"}],
        "env": [{"name": "SERVING_NAMESPACE", "value": meta["namespace"]},
                {"name": "SERVING_SERVICE", "value": labels.get(LABEL_SERVICE, "")},
                {"name": "SERVING_CONFIGURATION", "value": labels.get(LABEL_CONFIGURATION, "")},
                {"name": "SERVING_REVISION", "value": meta["name"]},
                {"name": "QUEUE_SERVING_PORT", "value": "8012"},
                {"name": "USER_PORT", "value": str(port)},
                {"name": "CONTAINER_CONCURRENCY", "value": str(spec.get("containerConcurrency") or 0)},
                {"name": "REVISION_TIMEOUT_SECONDS", "value": str(spec.get("timeoutSeconds") or 300)}],
        "readinessProbe": {"httpGet": {"port": 8012, "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]},
                           "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "resources": queue or queue_resources(revision, DeploymentConfig()),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
    })
    pod: dict[str, Any] = {
        "containers": containers,
        "enableServiceLinks": bool(spec.get("enableServiceLinks", False)),
        "terminationGracePeriodSeconds": int(spec.get("timeoutSeconds") or 300),
    }
    if spec.get("serviceAccountName"):
        pod["serviceAccountName"] = spec["serviceAccountName"]
    return pod


def _sync_routing_labels(ctx: Context, revision: dict[str, Any]) -> dict[str, Any]:
    routes, _ = routing(ctx, revision)
    labels = revision["metadata"].get("labels") or {}
    state = labels.get(LABEL_ROUTING_STATE, "pending")
    if routes:
        wanted = "active"
    elif state == "pending" and conditions.status_of(revision) != "True":
        wanted = "pending"
    else:
        wanted = "reserve"
    annotations = revision["metadata"].get("annotations") or {}
    # A pending revision keeps the routes it was created for; a reserve one, like Knative's
    # labeler leaves it, names no route.
    wanted_routes = annotations.get(ANNOTATION_ROUTES, "") if wanted == "pending" else ",".join(routes)
    if wanted == state and annotations.get(ANNOTATION_ROUTES, "") == wanted_routes:
        return revision
    new = copy.deepcopy(revision)
    new["metadata"].setdefault("labels", {})[LABEL_ROUTING_STATE] = wanted
    new_annotations = new["metadata"].setdefault("annotations", {})
    if wanted_routes:
        new_annotations[ANNOTATION_ROUTES] = wanted_routes
    else:
        new_annotations.pop(ANNOTATION_ROUTES, None)
    if wanted != state:
        new_annotations[ANNOTATION_ROUTING_MODIFIED] = ctx.now()
    return ctx.write(REVISION, new, revision) or revision
