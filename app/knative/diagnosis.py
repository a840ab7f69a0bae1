"""What happened to a revision that is not Ready, and what to do about it, in plain words, from the reasons and
messages Knative puts in its conditions (knative/serving revision_lifecycle.go: ContainerMissing, ExitCode<N>,
ProgressDeadlineExceeded; the pod's own reasons, and the Deployment's FailedCreate, for ResourcesAvailable) and, for a
Service, from the Configuration's RevisionFailed message it carries (configuration_lifecycle.go); and, for a split
the Route cannot apply, which revision holds it (route/traffic/errors.go)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.knative.instances import NOT_PULLED, RESOURCE_WORDS, Instance, amount_like, short_of
from app.knative.models import FAILED, SUCCESS, Condition, RevisionView, ServiceView, Template
from app.knative.probes import readiness_probe
from app.knative.quantity import quantity_or_none

_IMAGE = re.compile(r'Unable to fetch image "([^"]*)"')
_REVISION_FAILED = re.compile(r'^Revision "([^"]+)" failed with message: (.*)\.$', re.DOTALL)
_EXIT = re.compile(r"^ExitCode(-?[0-9]+)$")
# kube-scheduler's FitError (pkg/scheduler/framework/types.go NoNodeAvailableMsg), which Knative copies from the pod's
# PodScheduled condition when no instance of a revision is scheduled (reconcile_resources.go).
_NO_NODE = re.compile(r"^[0-9]+/[0-9]+ nodes are available")
# A Pod the API server refuses (the ReplicaSet's ReplicaFailure, reason FailedCreate, its message the refusal): the
# resource quota admission's "exceeded quota: NAME, requested: …" (plugin/pkg/admission/resourcequota), a LimitRange's
# "maximum cpu usage per Container is 1, but limit is 2" (plugin/pkg/admission/limitranger), a policy's own words.
_FORBIDDEN = re.compile(r'^pods "[^"]*" is forbidden: |^Pod "[^"]*" is invalid: ')
# validation.go ValidateResourceRequirements, once a LimitRange's default limit is below a container's request.
_ABOVE_LIMIT = re.compile(r'Invalid value: "([^"]*)": must be less than or equal to (\S+) limit of (\S+?)\.?$')
_QUOTA = re.compile(r"exceeded quota: ([^,]+), requested: (\S*), used: (\S*), limited: (\S*?)\.?$")
# pods.go Constraints: "must specify <resource> for: <containers>; …" (1.2x; before, "must specify <r1>,<r2>").
_MUST = re.compile(r"failed quota: ([^:]+): must specify (.*?)\.?$")
# limitranger/admission.go minConstraint and maxConstraint (newer without a final full stop).
_RANGE = re.compile(r"(maximum|minimum) (\S+) usage per (Container|Pod) is ([^,\s\]]+?)\.?"
                    r"(?:, but (limit|request) is ([^,\s\]]+?)\.?(?=,|\]|$)|\.?\s+No (limit|request) is specified)")
QUOTA_TERMS = {"cpu": "CPU requests", "requests.cpu": "CPU requests", "limits.cpu": "CPU limits",
               "memory": "memory requests", "requests.memory": "memory requests", "limits.memory": "memory limits",
               "ephemeral-storage": "ephemeral storage requests",
               "requests.ephemeral-storage": "ephemeral storage requests",
               "limits.ephemeral-storage": "ephemeral storage limits", "pods": "pods", "count/pods": "pods"}
_BY_ITSELF = "this revision starts by itself, as Kubernetes keeps trying to create its instances"
_INSTEAD = "which starts in this one's place"  # after a fix made in a new revision: this one stays as it is
# Knative's ConfigMap, in the namespace the console reads config-network from too (app.web.lookups).
CONFIG_DEPLOYMENT = "the ConfigMap knative-serving/config-deployment"
_REFUSED = "Kubernetes refuses to create its instances"
# The Route's AllTrafficAssigned messages for a split it cannot apply (knative/serving pkg/reconciler/route/traffic/
# errors.go), copied to the Service's RoutesReady; while one holds, the Route keeps its last good status.traffic.
_HELD = re.compile(r'^Revision "([^"]+)" (failed to become ready|referenced in traffic not found|is not yet ready)\.$')
# ProgressDeadlineExceeded's messages: the Deployment controller's, which Knative's PropagateDeploymentStatus copies
# (kubernetes pkg/controller/deployment/progress.go), and Knative's own once its autoscaler gave up on the revision and
# scaled it to zero (revision_lifecycle.go PropagateAutoscalerStatus).
_TIMED_OUT = re.compile(r'^(ReplicaSet|Deployment) "[^"]*" has timed out progressing\.$'
                        r"|^Initial scale was never achieved$")
PROGRESS_DEADLINE = ("serving.knative.dev/progress-deadline", "serving.knative.dev/progressDeadline")


@dataclass(frozen=True)
class Diagnosis:
    revision: str
    what: str  # what happened, one sentence without its full stop
    todo: str  # what to do
    reason: str = ""  # Knative's reason and message, shown behind the words
    message: str = ""

    @property
    def sentence(self) -> str:
        return f"{self.what}: {self.todo}"

    @property
    def headline(self) -> str:
        """What happened in a few words (`what` up to its first colon), for a narrow place that points to the rest."""
        return self.what.split(": ", 1)[0]


def _condition(conditions: Sequence[Condition], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def diagnose(revision: RevisionView, instances: Sequence[Instance] = (),
             holders: Sequence[tuple[str, int]] | None = None) -> Diagnosis | None:
    """Why the revision failed and what to do; None while it is not failed (Ready, or still deploying). `holders`: the
    Service's other revisions that hold instances, (name, how many), for a revision no node can run (None: not
    known)."""
    if revision.status.label != FAILED:
        return None
    ready = _condition(revision.conditions, "Ready")
    healthy = _condition(revision.conditions, "ContainerHealthy")
    resources = _condition(revision.conditions, "ResourcesAvailable")
    reason, message = (ready.reason, ready.message) if ready else ("", "")
    name, image = revision.name, revision.template.image
    if healthy is not None and healthy.status == "False":
        reason, message = healthy.reason, healthy.message
    elif resources is not None and resources.status == "False":
        reason, message = resources.reason, resources.message

    def verdict(what: str, todo: str) -> Diagnosis:
        return Diagnosis(name, what, todo, reason, message)

    if reason == "ContainerMissing":
        found = _IMAGE.search(message)
        return verdict(f"The image {found.group(1) if found else image} could not be resolved",
                       "check the image name and tag, and that the cluster can pull from its registry")
    exit_code = _EXIT.match(reason)
    if exit_code is not None:
        code = int(exit_code.group(1))
        restarts = sum(i.restarts for i in instances)
        again = f", and has been restarted {_plural(restarts, 'time')}" if restarts else ""
        if code == 137:
            return verdict(f"The container was killed as it started (exit code 137, most often for using more memory "
                           f"than its limit){again}",
                           "raise its memory limit or lower its use, then create a new revision")
        return verdict(f"The container exits with code {code} as soon as it starts{again}",
                       "read its last log lines below for the cause, fix the image or its settings (environment, "
                       "command, port), then create a new revision")
    if reason in NOT_PULLED or any(i.waiting in NOT_PULLED for i in instances):
        return verdict(f"The image {image} could not be pulled",
                       "check the image name and tag, and the registry credentials (imagePullSecrets)")
    if reason == "ProgressDeadlineExceeded":
        probe = readiness_probe(revision.raw_spec)
        within = f"The revision did not become ready within its progress deadline{_deadline(revision)}"
        if any(i.probe_failing for i in instances):
            return verdict(f"{within}: its container runs but never passed its readiness probe ({probe.words})",
                           f"{probe.check}, or change the readiness probe's settings, with its logs below for why, "
                           "then create a new revision")
        return verdict(within, "check its instances' events below (scheduling, resources, image pulls, readiness "
                       f"probe failures) and its logs, and its readiness probe ({probe.words}), then create a new "
                       "revision")
    if reason == "FailedCreate":
        return verdict(*refusal(message, revision.template, sum(1 for i in instances if not i.terminating)))
    if reason == "Unschedulable":
        # Ready=False from the start, but its pods are still there: they start once there is room, until Knative
        # scales the revision to zero after its progress deadline (then only a new revision starts).
        waiting = next((i for i in instances if i.unschedulable and not i.terminating), None)
        why, todo = unschedulable_words(message, waiting.asks if waiting else (), holders, waiting is not None,
                                        _min_scale(revision))
        return verdict(f"No node can run its instances: {why}", todo)
    return verdict(f"The revision is not Ready ({reason or 'no reason given'})",
                   "read its conditions, events and logs below")


def _amounts(text: str) -> dict[str, str]:
    """resourcequota's prettyPrint read back: `name=quantity,…`."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _more(requested: str, limited: str) -> bool:
    asked, most = quantity_or_none(requested), quantity_or_none(limited)
    return asked is not None and most is not None and asked > most


def and_words(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _own(template: Template | None, resource: str) -> str:
    """What the revision's own container states for a quota's resource (`requests.cpu`, `limits.memory`, …): a
    request not stated is its limit, as kube-apiserver defaults it; "" when it states neither."""
    if template is None:
        return ""
    kind, _, name = resource.rpartition(".")
    request, limit = {"cpu": (template.cpu_request, template.cpu_limit),
                      "memory": (template.memory_request, template.memory_limit)}.get(name, ("", ""))
    return limit if kind == "limits" else request or limit


def _quota_refusal(name: str, requested: dict[str, str], used: dict[str, str], limited: dict[str, str],
                   template: Template | None = None, instances: int = 0) -> tuple[str, str]:
    """A quota the instance would exceed: each resource in its words (what of it queue-proxy adds to the revision's
    own container); the revision too big for the whole quota, its own instances holding the quota, or the rest of the
    namespace using it up."""
    clauses, alone, held_by_it = [], [], []
    for resource in requested:
        term, asked, held, most = QUOTA_TERMS.get(resource, resource), requested[resource], used.get(resource, "0"), \
            limited.get(resource, "")
        own = f", by this revision's own {_plural(instances, 'instance')}" if instances and \
            _at_least(_times(asked, instances), held) else ""
        if own:
            held_by_it.append(term)
        if term == "pods":
            clauses.append(f"{held} of the {most} pods allowed are in use{own}")
            continue
        mine = _own(template, resource)
        value = quantity_or_none(mine)
        split = f" (its container's {amount_like(resource.rpartition('.')[2], value, asked)}, the rest for " \
            "queue-proxy, the container Knative adds to each instance)" if value is not None and _more(asked, mine) \
            else ""
        if _more(asked, most):
            alone.append(term)
            clauses.append(f"{term}: each instance asks for {asked}{split}, more than the {most} allowed in all")
        else:
            clauses.append(f"{term}: each instance asks for {asked}{split}, and {held} of the {most} allowed are in "
                           f"use{own}")
    what = f"{_REFUSED}: they would exceed the namespace's ResourceQuota {name} ({'; '.join(clauses)})"
    if alone:
        return what, (f"lower the revision's {and_words(alone)} in a new revision, {_INSTEAD}; or ask for a larger "
                      f"quota, and {_BY_ITSELF}")
    lower = [t for t in dict.fromkeys(QUOTA_TERMS.get(r, r) for r in requested) if t != "pods"]
    if held_by_it:
        its = f"min-scale or its {and_words(lower)}" if lower else "min-scale"
        return what, (f"lower the revision's {its} in a new revision, {_INSTEAD}; or ask for a larger quota, and "
                      f"{_BY_ITSELF}")
    todo = ("free some of the quota (fewer instances of other revisions or workloads in the namespace) or ask for a "
            f"larger quota, and {_BY_ITSELF}")
    return what, todo + (f"; or lower its {and_words(lower)} in a new revision" if lower else "")


def _times(amount: str, count: int) -> Decimal | None:
    value = quantity_or_none(amount)
    return None if value is None else value * count


def _at_least(value: Decimal | None, amount: str) -> bool:
    """Whether `value` (this revision's instances' share) accounts for all of `amount` in use."""
    used = quantity_or_none(amount)
    return value is not None and used is not None and value >= used > 0


def _must_state(name: str, listed: str) -> tuple[str, str]:
    """A quota that counts cpu or memory, and containers that do not state them."""
    missing: dict[str, list[str]] = {}
    for part in listed.split("; "):
        resource, _, containers = part.partition(" for: ")
        for one in resource.split(",") if not containers else [resource]:
            missing[one.strip()] = [c for c in containers.split(",") if c]
    terms = list(dict.fromkeys(QUOTA_TERMS.get(r, r) for r in missing))
    what = (f"{_REFUSED}: the namespace's ResourceQuota {name} counts {and_words(terms)}, so every container must "
            "state them")
    limit_range = "a LimitRange's defaults give them to every container that states none"
    if not any(missing.values()):
        return what, ("set them on the revision's container in a new revision (queue-proxy, the container Knative "
                      f"adds to each instance, takes its own from {CONFIG_DEPLOYMENT}), or {limit_range}")
    which = [f"{and_words(c)} {'states' if len(c) == 1 else 'state'} no {QUOTA_TERMS.get(r, r).removesuffix('s')}"
             if index == 0 else f"{and_words(c)} no {QUOTA_TERMS.get(r, r).removesuffix('s')}"
             for index, (r, c) in enumerate(missing.items())]
    what += f", and {', '.join(which)}"
    queue = [r for r, c in missing.items() if "queue-proxy" in c]
    todo = "set them on the revision's container in a new revision"
    if queue:
        keys = and_words([f"queue-sidecar-{r.split('.')[-1]}-{'limit' if r.startswith('limits.') else 'request'}"
                     for r in queue])
        sidecar = (f"Knative's queue-proxy, the container it adds to each instance, takes its own from {keys} in "
                   f"{CONFIG_DEPLOYMENT}")
        if all(c == ["queue-proxy"] for c in missing.values()):
            them = "it" if len(queue) == 1 else "them"
            return what, (f"{sidecar}: ask a cluster admin to set {them} there, or for a LimitRange whose defaults "
                          "give them to every container that states none (the revision's own container needs nothing "
                          f"more), and {_BY_ITSELF}")
        todo += f"; {sidecar}, or {limit_range}"
    return what, todo


def refusal(message: str, template: Template | None = None, instances: int = 0) -> tuple[str, str]:
    """What happened and what to do when the API server refuses a revision's pods (FailedCreate): a ResourceQuota,
    a LimitRange, or another admission's own words. `template` and `instances` (the revision's container and how
    many instances it has), when known, say what of an amount is queue-proxy's and whether the revision's own
    instances hold the quota."""
    quota = _QUOTA.search(message)
    if quota is not None:
        name, requested, used, limited = quota.groups()
        return _quota_refusal(name, _amounts(requested), _amounts(used), _amounts(limited), template, instances)
    must = _MUST.search(message)
    if must is not None:
        return _must_state(*must.groups())
    above = _ABOVE_LIMIT.search(message)
    if above is not None:
        request, resource, limit = above.groups()
        term = RESOURCE_WORDS.get(resource, resource)
        return (f"{_REFUSED}: a container requests {request} of {term}, more than its {term} limit of {limit} (the "
                "namespace's LimitRange default, when the revision sets none)",
                f"set the revision's {term} limit (at least its request) in a new revision, {_INSTEAD}; or ask for "
                f"the LimitRange's default to be raised, and {_BY_ITSELF}")
    found = _RANGE.search(message)
    if found is not None:
        bound, resource, per, enforced, kind, value, unstated = found.groups()
        subject = "a container" if per == "Container" else "an instance (its containers together)"
        term = f"{RESOURCE_WORDS.get(resource, resource)} {kind or unstated}"
        most = "at most" if bound == "maximum" else "at least"
        this = f"this one's is {value}" if value else "one states none"
        return (f"{_REFUSED}: the namespace's LimitRange allows {subject} a {term} of {most} {enforced}, and {this}",
                f"give the revision a {term} of {most} {enforced} in a new revision, {_INSTEAD}; or ask for the "
                f"LimitRange to be changed, and {_BY_ITSELF}")
    return (f"{_REFUSED}: {_FORBIDDEN.sub('', message).rstrip('.')}",
            "change the revision's settings to what the namespace allows (its LimitRange, ResourceQuota or policies) "
            "in a new revision")


def _asks_words(resources: Collection[str], asks: Sequence[tuple[str, str, str]]) -> str:
    """" (each instance asks for 4025m CPU, of which 4 for its container and the rest for queue-proxy, …)": what an
    instance asks for of the resources no node has enough of (the scheduler's message gives no amounts)."""
    parts = []
    for name, total, own in asks:
        if name in resources:
            split = f", of which {own} for its container and the rest for queue-proxy, the container Knative adds " \
                "to each instance" if own and _more(total, own) else ""
            parts.append(f"{total} {RESOURCE_WORDS.get(name, name)}{split}")
    return f" (each instance asks for {'; '.join(parts)})" if parts else ""


def _min_scale(revision: RevisionView) -> bool:
    """Whether the revision asks for a min-scale above zero (lowering it is then advice worth giving)."""
    text = revision.template.scaling.min_scale.strip()
    return text.isascii() and text.isdigit() and int(text) > 0


def unschedulable_words(message: str, asks: Sequence[tuple[str, str, str]] = (),
                        holders: Sequence[tuple[str, int]] | None = None, waiting: bool = False,
                        min_scale: bool = True) -> tuple[str, str]:
    """Why no node takes the revision's instances, and what to do, by what the scheduler's message says ran out (its
    reasons: fit.go's "Insufficient cpu", "Insufficient memory", "Too many pods"), with what an instance asks for of
    it (`asks`: Instance.asks of one that waits for a node) and, when known, which of the Service's other revisions
    hold instances on the nodes (`holders`: (revision, instances); None when not known). `waiting`: its instances are
    there, waiting, and start by themselves once there is room (else Knative scaled it to zero: a new revision it is).
    `min_scale`: the revision sets one, and lowering it is said as a way out."""
    older = _older(holders)
    then = f"; {_BY_THEMSELVES}" if waiting else ", then create a new revision"
    missing = short_of(message)
    resources = [r for r in missing if r != "pods"]
    named = " and ".join(RESOURCE_WORDS.get(r, r) for r in resources)
    amounts = _asks_words(resources, asks)
    if resources and "pods" in missing:
        return (f"no node has enough {named} left{amounts}, and none takes more pods",
                f"lower the revision's {named} requests{' or its min-scale' if min_scale else ''} in a new revision, "
                f"free room{older}, or add capacity to the cluster (more or larger nodes){then}")
    if resources:
        scale = " (or its min-scale, if its own instances take the room)" if min_scale else ""
        return (f"no node has enough {named} left for their requests{amounts}",
                f"lower the revision's {named} requests{scale} in a new revision, free room{older}, or add {named} to "
                f"the cluster (larger or more nodes){then}")
    if missing:
        lower = "lower the revision's min-scale (a new revision), " if min_scale else ""
        return ("every node already runs as many pods as it takes",
                f"{lower}scale down or delete other workloads{older}, or add nodes to the cluster (each takes as many "
                f"pods as its kubelet's --max-pods, 110 by default){then}")
    return ("the scheduler found no node that fits them",
            "read the scheduler's message in the events below (FailedScheduling), and change the revision's requests "
            "or the cluster's nodes to match")


# What freeing room does: the scheduler binds the waiting pods once they fit; only lower requests or a lower min-scale
# take a new revision.
_BY_THEMSELVES = "once there is room, the waiting instances start by themselves"
# Whose instances take the room: Knative's autoscaler scales a revision whose initial scale was never achieved to zero
# once its progress deadline has passed (pkg/reconciler/autoscaling/kpa/scaler.go, "Initial scale was never
# achieved"), so a lowered min-scale in a new revision can wait on the revision before it until then.
_OLDER = ("this Service's older revisions too: one that never became Ready keeps its instances until Knative scales it "
          "to zero, after its progress deadline; deleting it frees them now")


def _older(holders: Sequence[tuple[str, int]] | None) -> str:
    """" (…)": whose instances take the room, in words: the Service's other revisions that hold some, by name, when
    known; nothing when it is known that none does."""
    if holders is None:
        return f" ({_OLDER})"
    if not holders:
        return ""
    held = [f"{count} {'instance' if count == 1 else 'instances'} of {name}" if index == 0 else f"{count} of {name}"
            for index, (name, count) in enumerate(holders)]
    return (f" (this Service's other revisions too, which hold {and_words(held)}: one that never became Ready keeps "
            "its instances until Knative scales it to zero, after its progress deadline; deleting it frees them now)")


def _deadline(revision: RevisionView) -> str:
    """" (600s)": the revision's own progress deadline, as its annotation says it; "" when it has none (then
    config-deployment's progress-deadline applies, which the console does not read)."""
    annotations = revision.raw_metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    value = next((annotations[k] for k in PROGRESS_DEADLINE if isinstance(annotations.get(k), str)), "")
    return f" ({value})" if value else ""


def not_ready(revision: RevisionView, instances: Sequence[Instance] = (),
              holders: Sequence[tuple[str, int]] | None = None) -> Diagnosis | None:
    """Why a revision still deploying is not Ready when its instances say why: their container runs, but does not
    pass its readiness probe (Knative then reports only "Deploying" until the progress deadline fails it). None
    otherwise, and once the revision is Ready or failed (`diagnose` then says it)."""
    if revision.status.label in (FAILED, SUCCESS):
        return None
    live = [i for i in instances if not i.terminating]
    pending = [i for i in live if i.unschedulable]
    if pending:
        why, todo = unschedulable_words(pending[0].unschedulable, pending[0].asks, holders, waiting=True,
                                        min_scale=_min_scale(revision))
        waits = "waits" if len(pending) == 1 else "wait"
        count = f"{len(pending)} of its {_plural(len(live), 'instance')} {waits}" if len(pending) < len(live) else \
            ("Its instance waits" if len(live) == 1 else f"All {len(live)} of its instances wait")
        return Diagnosis(revision.name, f"{count} for a node: {why}",
                         f"Knative fails the revision if it is not Ready within its progress deadline"
                         f"{_deadline(revision)}: {todo}", "Unschedulable", pending[0].unschedulable)
    if not any(i.probe_failing for i in live) or any(i.ready for i in live):
        return None
    probe = readiness_probe(revision.raw_spec)
    return Diagnosis(revision.name, f"Its container runs but does not pass its readiness probe ({probe.words})",
                     "Knative sends it no requests until it does, and fails the revision if it has not within its "
                     f"progress deadline{_deadline(revision)}: {probe.check}, or change the readiness probe's "
                     "settings; its logs are below")


@dataclass(frozen=True)
class HeldSplit:
    """The split the Service asks for, which Knative has not applied because of one revision it names."""

    revision: str
    why: str  # the Route's words: "failed to become ready", "referenced in traffic not found", "is not yet ready"
    percent: int  # what the split asks for it

    @property
    def failed(self) -> bool:
        return self.why != "is not yet ready"

    @property
    def sentence(self) -> str:
        """Said above the Service's Traffic table, which shows what is routed."""
        return self._said("as below, as it did before", "in Split Traffic", "Remove {}'s row in Split Traffic")

    @property
    def in_form(self) -> str:
        """Said in a traffic form, whose "Now" column shows what is routed and whose rows can fix it."""
        return self._said("as it did before, as the Now column shows", "below", "Clear {}'s tag below")

    def _said(self, routes: str, here: str, untag: str) -> str:
        name = self.revision
        # A tag alone names a revision too, with no share.
        asks = f"gives {name} {self.percent}%" if self.percent else f"names {name}"
        if not self.failed:
            return (f"The split asked for takes effect once {name} is Ready (it {asks}): until then Knative routes "
                    f"{routes}.")
        what = "failed to become ready" if self.why.startswith("failed") else "does not exist"
        fix = "create a revision that fixes it and give the share to that one" if what.startswith("failed") \
            else "give the share to a revision that exists"
        todo = f"Give {name} 0% {here} (or {fix})" if self.percent else untag.format(name)
        return (f"The split asked for is not in effect: it {asks}, and {name} {what}, so Knative still routes "
                f"{routes}. {todo}.")


def held_split(service: ServiceView) -> HeldSplit | None:
    """The split asked for when the Route cannot apply it because a revision it names is missing, failed or not Ready
    yet (RevisionMissing on RoutesReady): the traffic the Service reports is then the last split applied."""
    routes = _condition(service.conditions, "RoutesReady")
    if routes is None or routes.status == "True" or routes.reason != "RevisionMissing" or not service.status_traffic:
        return None
    found = _HELD.match(routes.message)
    if found is None:
        return None
    name, why = found.groups()
    percent = sum(t.percent for t in service.spec_traffic if t.revision_name == name and not t.latest_revision)
    return HeldSplit(name, why, percent)


@dataclass(frozen=True)
class DeletedEntry:
    """A revision the traffic Knative reports still names, which no longer exists (deleted with kubectl, say): the
    Route then refuses every split that names it (RevisionMissing, "referenced in traffic not found") and keeps the
    last one it applied, so the entry stays listed, with its tag and tag URL, until the split stops naming it."""

    revision: str
    percent: int
    tag: str

    @property
    def sentence(self) -> str:
        holds = [f"{self.percent}%"] if self.percent else []
        todo = ["give it 0%"] if self.percent else []
        if self.tag:
            holds.append(f"tag {self.tag}")
            todo.append(f"remove its tag {self.tag}")
        return f"{self.revision} was deleted, but the split still names it ({', '.join(holds)}): " \
            f"{' and '.join(todo)} in Split Traffic."


def deleted_entries(service: ServiceView, existing: Collection[str]) -> tuple[DeletedEntry, ...]:
    """The revisions the traffic Knative reports names by name that are not among `existing` (all the Service's
    revisions). Only the Route's status.traffic: what it lists existed when applied, while the spec may name a
    revision about to be made."""
    named: dict[str, DeletedEntry] = {}
    for t in service.status_traffic:
        if t.latest_revision or not t.revision_name or t.revision_name in existing:
            continue
        seen = named.get(t.revision_name, DeletedEntry(t.revision_name, 0, ""))
        named[t.revision_name] = DeletedEntry(t.revision_name, seen.percent + t.percent, seen.tag or t.tag)
    return tuple(named.values())


def service_problem(service: ServiceView) -> str:
    """One line for a failed Service in the list: which revision failed and why, and where the traffic that follows
    the latest revision stays (said only when some does: traffic pinned by name is not moved by a failure)."""
    if service.status.label != FAILED:
        return ""
    message = service.status.message
    # A first revision that fails leaves Ready with the Route's RevisionMissing ("Configuration … does not
    # have any ready Revision."): the Route's status is propagated last (service.go). The revision and its
    # reason are in ConfigurationsReady's RevisionFailed message, so that one is read first.
    configured = _condition(service.conditions, "ConfigurationsReady")
    if configured is not None and configured.status == "False" and _REVISION_FAILED.match(configured.message):
        message = configured.message
    found = _REVISION_FAILED.match(message)
    if found is None:
        return message
    name, inner = found.groups()
    image = _IMAGE.search(inner)
    if image is not None:
        what = f"the image {image.group(1)} could not be resolved"
    elif inner.startswith("Container failed with:"):
        what = "its container exits as soon as it starts"
    elif _TIMED_OUT.match(inner):
        what = "it did not become ready within its progress deadline"
    elif _FORBIDDEN.match(inner):
        what = refusal(inner)[0]
    elif _NO_NODE.match(inner):
        what = f"no node can run its instances: {unschedulable_words(inner)[0]}"
    else:
        what = inner.rstrip(".")  # Knative's "failed with message: %s." after a message that ends with one
    line = f"Revision {name} failed: {what}."
    if service.latest_ready and service.latest_ready != name and service.follows_latest:
        line += f" Traffic stays on {service.latest_ready}."
    held = held_split(service)
    if held is not None and held.failed and held.revision == name:
        line += " The split that gives it traffic is not in effect: traffic stays as it was."
    return line
