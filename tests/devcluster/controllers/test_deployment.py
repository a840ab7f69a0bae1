"""The Deployment controller finds a Deployment's current ReplicaSet as kube's does (deployment_util.go
FindNewReplicaSet): the oldest whose pod template is the Deployment's, the pod-template-hash label aside, whatever
its name; the hash only names a new one."""

from __future__ import annotations

import copy
from typing import Any

from app.devcluster.controllers.deployment import find_new_replicaset, template_hash

HASH = "pod-template-hash"


def deployment(image: str) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d1"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def replicaset(owner: dict[str, Any], name: str, created: str, pod_hash: str) -> dict[str, Any]:
    template = copy.deepcopy(owner["spec"]["template"])
    template["metadata"]["labels"][HASH] = pod_hash
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"replicas": 1, "template": template}}


def test_the_replicaset_with_the_same_template_is_found_whatever_its_name_or_hash() -> None:
    web = deployment("web:2")
    older = replicaset(deployment("web:1"), "web-abc", "2026-01-01T00:00:00Z", "abc")
    current = replicaset(web, "web-5d8f7b9c4", "2026-01-02T00:00:00Z", "5d8f7b9c4")  # kube's own hash, not ours
    assert current["metadata"]["name"] != f"web-{template_hash(web['spec']['template'])}"
    assert find_new_replicaset(web, [older, current]) is current
    assert find_new_replicaset(deployment("web:3"), [older, current]) is None


def test_of_two_with_the_same_template_the_oldest_is_the_new_one() -> None:
    web = deployment("web:1")
    newer = replicaset(web, "web-a", "2026-01-02T00:00:00Z", "a")
    oldest = replicaset(web, "web-b", "2026-01-01T00:00:00Z", "b")
    same_time = replicaset(web, "web-0", "2026-01-01T00:00:00Z", "0")  # the same second: by name
    assert find_new_replicaset(web, [newer, oldest]) is oldest
    assert find_new_replicaset(web, [newer, oldest, same_time]) is same_time


def test_only_the_hash_label_is_set_aside() -> None:
    web = deployment("web:1")
    other_label = replicaset(web, "web-a", "2026-01-01T00:00:00Z", "a")
    other_label["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    assert find_new_replicaset(web, [other_label]) is None
    unlabelled = deployment("web:1")
    del unlabelled["spec"]["template"]["metadata"]["labels"]
    bare = replicaset(deployment("web:1"), "web-b", "2026-01-01T00:00:00Z", "b")
    bare["spec"]["template"]["metadata"]["labels"] = {HASH: "b"}  # only the hash: the same as none
    assert find_new_replicaset(unlabelled, [bare]) is bare
