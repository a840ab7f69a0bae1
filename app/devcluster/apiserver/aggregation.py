"""The ClusterRole aggregation controller (kube-controller-manager's clusterrole-aggregation): a ClusterRole with
an aggregationRule gets as rules the union of the rules of every other ClusterRole its selectors match, kept
current as those change. Roles are visited by name, rules deduplicated in order, as the controller does."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from app.devcluster.apiserver.resources import CLUSTER_ROLE
from app.devcluster.apiserver.rest import Rest
from app.devcluster.apiserver.store import Event
from app.devcluster.apiserver.tasks import cancel

log = logging.getLogger("devcluster.rbac")
MANAGER = "clusterrole-aggregation-controller"


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector: every matchLabels pair and every matchExpressions requirement holds."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict) or any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            return False
        key, operator, values = str(expression.get("key")), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def aggregated_rules(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    name = role["metadata"]["name"]
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        matching = sorted((r for r in roles if r["metadata"]["name"] != name
                           and selector_matches(selector, r["metadata"].get("labels") or {})),
                          key=lambda r: r["metadata"]["name"])
        for other in matching:
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


class Aggregation:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reconcile()
        subscription = self.rest.store.subscribe([CLUSTER_ROLE.key])
        self._task = asyncio.create_task(self._run(subscription.queue))

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self, queue: asyncio.Queue[Event | None]) -> None:
        while (event := await queue.get()) is not None:
            while not queue.empty():  # a batch of changes: one pass for them all
                if queue.get_nowait() is None:
                    return
            try:
                self.reconcile()
            except Exception:
                log.exception("aggregating cluster roles after a change to %s failed", event.name)

    def reconcile(self) -> None:
        """Bring every aggregated ClusterRole up to date; repeated until none changes (edit includes view)."""
        for _ in range(10):
            changed = False
            roles = self.rest.store.list(CLUSTER_ROLE.key)
            for role in roles:
                if not isinstance(role.get("aggregationRule"), dict):
                    continue
                rules = aggregated_rules(role, roles)
                if rules != (role.get("rules") or []):
                    new = copy.deepcopy(role)
                    new["rules"] = rules
                    self.rest.system_write(CLUSTER_ROLE, new, role, MANAGER)
                    changed = True
            if not changed:
                return
