"""The scheduler and the kubelet of the dev cluster's one node: pods are bound to it, their containers "start" after
the start-up delay, and their status says what a kubelet would say. No process runs.

A container either runs (the helloworld sample: it writes its start-up lines, then a line per request the gateway
sends it), or exits at once with the code the images ConfigMap gave it and is restarted with the kubelet's back-off
(CrashLoopBackOff, a growing restart count, its last run's output kept for `kubectl logs --previous`), or runs but
never passes the readiness probe queue-proxy runs for it (queue-proxy stays not ready, and the kubelet's probe of
queue-proxy fails: Unhealthy Events), or, for an image no registry has, never starts: each pull fails (ErrImagePull)
and the kubelet backs off before the next (ImagePullBackOff).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.devcluster.admission.goparse import go_duration
from app.devcluster.apiserver.builtins import pod_qos
from app.devcluster.apiserver.nodes import NODE_IP, NODE_NAME
from app.devcluster.apiserver.resources import POD
from app.devcluster.controllers import conditions as knative_conditions
from app.devcluster.controllers.context import Context, condition
from app.devcluster.controllers.labels import ANNOTATION_SIMULATED_EXIT, ANNOTATION_SIMULATED_UNREADY, LABEL_REVISION
from app.devcluster.controllers.scheduler import Scheduler
from app.devcluster.crds.resources import REVISION

NODE = NODE_NAME
KUBELET = "kubelet"
MAX_BACKOFF = 300.0  # the kubelet's cap on the restart back-off (5m)
USER_CONTAINER = "user-container"  # the name Knative's defaulting gives a revision's container that has none
QUEUE_PROXY = "queue-proxy"
USER_PORT = "user-port"  # the port Knative's deploy.go gives the serving container (v1.UserPortName)
# What the kubelet's HTTP prober (pkg/probe/http/http.go) says of queue-proxy's answer while the user's container
# fails the readiness probe queue-proxy runs on its behalf: 503 (knative/serving pkg/queue/health_state.go).
QUEUE_NOT_READY = "HTTP probe failed with statuscode: 503"


@dataclass
class PullBackOff:
    """The kubelet's image back-off for one pod and image (flowcontrol.Backoff keyed `<pod uid>_<image>`), and the
    last pull's error, which the back-off's waiting message carries."""

    until: float  # loop time the back-off ends
    backoff: float
    error: str


@dataclass
class Probing:
    """A readiness probe that keeps failing on one pod: when it runs next (loop time), and how many times it failed."""

    next: float
    period: float
    failures: int = 0


@dataclass
class Kubelet:
    """What the kubelet keeps in memory: when each pod's next container start is due (loop time), and its image
    pull back-offs."""

    backoff: float = 10.0  # the kubelet's first restart back-off, and its first image pull back-off
    due: dict[str, float] = field(default_factory=dict)  # pod uid → loop time of its next start or restart
    pulls: dict[tuple[str, str], PullBackOff] = field(default_factory=dict)  # (pod uid, image) → its back-off
    probes: dict[str, Probing] = field(default_factory=dict)  # pod uid → the readiness probe that keeps failing
    scheduler: Scheduler = field(default_factory=Scheduler)  # binds pods to the node, or leaves them Pending

    def forget(self, uid: str) -> None:
        self.due.pop(uid, None)
        self.probes.pop(uid, None)
        for key in [k for k in self.pulls if k[0] == uid]:
            del self.pulls[key]


def go_log(text: str, when: float | None = None) -> str:
    """A line as Go's log package writes it: `2006/01/02 15:04:05 text`."""
    stamp = datetime.fromtimestamp(time.time() if when is None else when, UTC).strftime("%Y/%m/%d %H:%M:%S")
    return f"{stamp} {text}"


def serving_container(pod: dict[str, Any]) -> str:
    """The name of a Knative pod's serving container: the revision's own container (rev.Spec.GetContainer(), named
    as the user named it, `user-container` by default), which deploy.go gives the `user-port` port."""
    containers = _containers(pod)
    named = next((c for c in containers if any(isinstance(p, dict) and p.get("name") == USER_PORT
                                               for p in c.get("ports") or [])), None)
    named = named or next((c for c in containers if c.get("name") != QUEUE_PROXY), None)
    return str((named or {}).get("name") or USER_CONTAINER)


def pod_ip(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return f"10.244.{digest[0]}.{digest[1] or 1}"


def _container_id(uid: str, name: str, run: int) -> str:
    return "containerd://" + hashlib.sha256(f"{uid}/{name}/{run}".encode()).hexdigest()


def _image_id(image: str) -> str:
    if "@" in image:
        return image
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _exit_code(ctx: Context, pod: dict[str, Any], container: dict[str, Any]) -> int | None:
    """Whether this container exits as it starts: the revision's mark on a Knative pod, else the images ConfigMap."""
    annotations = pod["metadata"].get("annotations") or {}
    if LABEL_REVISION in (pod["metadata"].get("labels") or {}):
        mark = annotations.get(ANNOTATION_SIMULATED_EXIT, "")
        return int(mark) if container.get("name") == serving_container(pod) and mark.isdigit() else None
    return ctx.images().exit_code(str(container.get("image", "")))


def _start_delay(ctx: Context, pod: dict[str, Any]) -> float:
    """A revision's first instances take the revision start-up delay; once it has been Ready, a new one (scaled up
    again, from zero or not) takes the cold-start delay."""
    meta = pod["metadata"]
    revision_name = (meta.get("labels") or {}).get(LABEL_REVISION)
    if revision_name:
        revision = ctx.get(REVISION, meta["namespace"], revision_name)
        healthy = knative_conditions.status_of(revision, "ResourcesAvailable") == "True"
        return ctx.cold_start_delay if healthy else ctx.start_delay
    return ctx.start_delay


def reconcile(ctx: Context, kubelet: Kubelet, namespace: str, name: str) -> None:
    pod = ctx.get(POD, namespace, name)
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        if pod is None:
            ctx.logs.forget(namespace, name)
        return
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        kubelet.scheduler.schedule(ctx, pod)
        return
    uid = pod["metadata"]["uid"]
    status = pod.get("status") or {}
    now = ctx.clock()
    if not status.get("containerStatuses"):
        kubelet.due[uid] = now + _start_delay(ctx, pod)
        ctx.write_status(POD, pod, _status(pod, [_creating(c) for c in _containers(pod)], ctx.now()))
        ctx.schedule((POD.key, namespace, name), kubelet.due[uid] - now)
        return
    due = kubelet.due.get(uid, now)
    if due > now:
        ctx.schedule((POD.key, namespace, name), due - now)
        return
    kubelet.due.pop(uid, None)
    changed = False
    states = []
    for container, state in zip(_containers(pod), _statuses(pod), strict=False):
        new_state = _advance(ctx, kubelet, pod, container, state, now)
        changed = changed or new_state != state
        states.append(new_state)
    unready = False
    if LABEL_REVISION in (pod["metadata"].get("labels") or {}):
        # queue-proxy's readiness probe goes through to the user's container: not ready while that one is not, nor
        # while that container does not pass the readiness probe queue-proxy runs for it (an `unready` image).
        user = serving_container(pod)
        user_ready = all(s.get("ready") for s in states if s.get("name") == user)
        unready = (pod["metadata"].get("annotations") or {}).get(ANNOTATION_SIMULATED_UNREADY) == "true"
        states = [{**s, "ready": bool(s.get("ready") and user_ready and not unready)} if s.get("name") == QUEUE_PROXY
                  else s for s in states]
        changed = changed or states != _statuses(pod)
    if changed:
        ctx.write_status(POD, pod, _status(pod, states, ctx.now()))
    waiting = [kubelet.due[uid] - now] if uid in kubelet.due else []
    queue = next((s for s in states if s.get("name") == QUEUE_PROXY), {})
    if unready and (queue.get("state") or {}).get("running"):
        waiting.append(_probe_fails(ctx, kubelet, pod, now) - now)
    # A pull that just failed is looked at again at once, as the kubelet's pod worker syncs the pod again on its own
    # status update, which finds the back-off (ImagePullBackOff); then again when the back-off ends.
    for (pod_uid, image), pull in kubelet.pulls.items():
        if pod_uid == uid and pull.until > now:
            failed = any(s.get("image") == image and _waiting_reason(s) == "ErrImagePull" for s in states)
            waiting.append(0.0 if failed else pull.until - now)
    if waiting:
        ctx.schedule((POD.key, namespace, name), max(min(waiting), 0.0))


def _probe_fails(ctx: Context, kubelet: Kubelet, pod: dict[str, Any], now: float) -> float:
    """queue-proxy's readiness probe, failing each period while the user's container does not pass the probe
    queue-proxy runs for it: each failure is a Warning Unhealthy Event on the pod, about queue-proxy, in the kubelet's
    words (pkg/kubelet/prober/prober.go: "%s probe failed: %s"); the same Event again raises its count, and the spam
    filter lets 25 through per pod, then one every 5 minutes (app.devcluster.controllers.correlator). The loop time of
    the next probe."""
    uid = pod["metadata"]["uid"]
    probe = next((c.get("readinessProbe") for c in _containers(pod) if c.get("name") == QUEUE_PROXY), None) or {}
    period = float(probe.get("periodSeconds") or 10) if isinstance(probe, dict) else 10.0
    probing = kubelet.probes.get(uid)
    if probing is None:
        probing = kubelet.probes[uid] = Probing(next=now + period, period=period)
        return probing.next
    if now < probing.next:
        return probing.next
    runs = 1 + int((now - probing.next) // probing.period)
    probing.next += runs * probing.period
    probing.failures += runs
    ctx.record(pod, "Unhealthy", f"Readiness probe failed: {QUEUE_NOT_READY}", kind="Warning", component=KUBELET,
               host=NODE, field_path=f"spec.containers{{{QUEUE_PROXY}}}")
    # The next Event the filter lets through, rather than every probe: nothing else about the pod changes.
    return max(probing.next, now + ctx.quiet_for(pod, KUBELET, NODE))


def _waiting_reason(state: dict[str, Any]) -> str:
    return str(((state.get("state") or {}).get("waiting") or {}).get("reason") or "")


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    by_name = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    return [by_name.get(c.get("name")) or _creating(c) for c in _containers(pod)]


def _creating(container: dict[str, Any]) -> dict[str, Any]:
    image = str(container.get("image", ""))
    return {"name": container.get("name", ""), "image": image, "imageID": "", "ready": False, "started": False,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}


def _advance(ctx: Context, kubelet: Kubelet, pod: dict[str, Any], container: dict[str, Any],
             state: dict[str, Any], now: float) -> dict[str, Any]:
    """The container's next state, once its start (or restart) is due."""
    current = state.get("state") or {}
    if current.get("running"):
        return {**state, "ready": True}
    meta = pod["metadata"]
    name, image = str(container.get("name", "")), str(container.get("image", ""))
    key = (meta["namespace"], meta["name"], name)
    pattern = ctx.images().unresolvable_pattern(image) if LABEL_REVISION not in (meta.get("labels") or {}) else ""
    if pattern:
        return _pull_fails(ctx, kubelet, pod, state, image, now)
    restarts = int(state.get("restartCount") or 0)
    previous_run = bool((state.get("lastState") or {}).get("terminated"))
    run = restarts + 1 if previous_run else restarts
    stamp = ctx.now()
    if previous_run:
        restarts += 1
    if not current.get("running"):
        ctx.logs.start(key)
        kubelet.pulls.pop((meta["uid"], image), None)  # the image is there now: its pull back-off is done with
        # EnsureImageExists runs on every start, so each restart says it again (image_manager.go).
        ctx.record(pod, "Pulled", f'Container image "{image}" already present on machine', component=KUBELET,
                   host=NODE)
        ctx.record(pod, "Created", f"Created container: {name}", component=KUBELET, host=NODE)
        ctx.record(pod, "Started", f"Started container {name}", component=KUBELET, host=NODE)
        if LABEL_REVISION in (meta.get("labels") or {}) and name == serving_container(pod):
            port = _port(container)
            ctx.logs.write(key, go_log("helloworld: starting server..."), time.time())
            if (meta.get("annotations") or {}).get(ANNOTATION_SIMULATED_UNREADY) == "true":
                ctx.logs.write(key, go_log(f"helloworld: not listening on port {port}: the dev cluster's "
                                           "devcluster-system/images ConfigMap lists this image under \"unready\""),
                               time.time())
            else:
                ctx.logs.write(key, go_log(f"helloworld: listening on port {port}"), time.time())
    code = _exit_code(ctx, pod, container)
    container_id = _container_id(meta["uid"], name, run)
    base = {"name": name, "image": image, "imageID": _image_id(image), "containerID": container_id,
            "restartCount": restarts}
    if code is None:
        return {**base, "ready": True, "started": True, "state": {"running": {"startedAt": stamp}},
                "lastState": state.get("lastState") or {}}
    # It exits as it starts: its last words, then the kubelet's back-off before the next try.
    words = go_log(f"helloworld: exiting with code {code}: the dev cluster's devcluster-system/images ConfigMap "
                   "lists this image under \"failing\"")
    ctx.logs.write(key, words, time.time())
    ctx.logs.end(key)
    run_log = ctx.logs.current(key)
    message = run_log.tail().rstrip("\n") if run_log is not None else words
    backoff = min(kubelet.backoff * (2 ** restarts), MAX_BACKOFF)
    kubelet.due[meta["uid"]] = min(kubelet.due.get(meta["uid"], now + backoff), now + backoff)
    ctx.record(pod, "BackOff", f"Back-off restarting failed container {name} in pod "
               f"{meta['name']}_{meta['namespace']}({meta['uid']})", kind="Warning", component=KUBELET, host=NODE)
    return {
        **base, "ready": False, "started": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": (
            f"back-off {go_duration(backoff)} restarting failed container={name} "
            f"pod={meta['name']}_{meta['namespace']}({meta['uid']})")}},
        "lastState": {"terminated": {"exitCode": code, "reason": "Error", "message": message, "startedAt": stamp,
                                     "finishedAt": stamp, "containerID": container_id}},
    }


def _pull_fails(ctx: Context, kubelet: Kubelet, pod: dict[str, Any], state: dict[str, Any], image: str,
                now: float) -> dict[str, Any]:
    """An image no registry has, as kubelets since 1.32 report it (pkg/kubelet/images/image_manager.go pullImage,
    kuberuntime_container.go startContainer): a pull fails with ErrImagePull and starts the image back-off; a start
    during the back-off waits with ImagePullBackOff, its message carrying the last pull's error; once the back-off
    ends the kubelet pulls again, and the back-off doubles, up to 5 minutes."""
    key = (pod["metadata"]["uid"], image)
    pull = kubelet.pulls.get(key)
    if pull is not None and now < pull.until:
        if _waiting_reason(state) != "ImagePullBackOff":
            ctx.record(pod, "BackOff", f'Back-off pulling image "{image}"', component=KUBELET, host=NODE)
            ctx.record(pod, "Failed", "Error: ImagePullBackOff", kind="Warning", component=KUBELET, host=NODE)
        return {**state, "state": {"waiting": {
            "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}": ErrImagePull: {pull.error}'}}}
    # The runtime's error is containerd's wording as we understand it, unconfirmed against a containerd source; the
    # kubelet's own words around it are image_manager.go's.
    error = f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found'
    ctx.record(pod, "Pulling", f'Pulling image "{image}"', component=KUBELET, host=NODE)
    ctx.record(pod, "Failed", f'Failed to pull image "{image}": {error}', kind="Warning", component=KUBELET,
               host=NODE)
    ctx.record(pod, "Failed", "Error: ErrImagePull", kind="Warning", component=KUBELET, host=NODE)
    backoff = kubelet.backoff if pull is None else min(pull.backoff * 2, MAX_BACKOFF)
    kubelet.pulls[key] = PullBackOff(now + backoff, backoff, error)
    return {**state, "state": {"waiting": {"reason": "ErrImagePull", "message": error}}}


def _port(container: dict[str, Any]) -> int:
    for env in container.get("env") or []:
        if isinstance(env, dict) and env.get("name") == "PORT" and str(env.get("value", "")).isdigit():
            return int(env["value"])
    ports = [p for p in container.get("ports") or [] if isinstance(p, dict)]
    return int(ports[0].get("containerPort") or 8080) if ports else 8080


def _status(pod: dict[str, Any], states: list[dict[str, Any]], stamp: str) -> dict[str, Any]:
    previous = (pod.get("status") or {}).get("conditions") or []
    unready = [s["name"] for s in states if not s.get("ready")]
    ready = not unready
    started = any((s.get("state") or {}).get("running") or s.get("lastState") for s in states)
    why = ("ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]") if unready else ("", "")
    conditions = [
        condition("PodReadyToStartContainers", "True", stamp, previous=previous, probe=True),
        condition("Initialized", "True", stamp, previous=previous, probe=True),
        condition("Ready", "True" if ready else "False", stamp, *why, previous=previous, probe=True),
        condition("ContainersReady", "True" if ready else "False", stamp, *why, previous=previous, probe=True),
        condition("PodScheduled", "True", stamp, previous=previous, probe=True),
    ]
    uid = pod["metadata"]["uid"]
    status = {
        "phase": "Running" if started else "Pending",
        "conditions": conditions,
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}],
        "podIP": pod_ip(uid), "podIPs": [{"ip": pod_ip(uid)}],
        "startTime": (pod.get("status") or {}).get("startTime") or stamp,
        "containerStatuses": states,
        "qosClass": (pod.get("status") or {}).get("qosClass") or pod_qos(pod),  # set on create
    }
    return status


