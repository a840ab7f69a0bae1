"""Kubernetes Services' ClusterIPs: handed out from the range, never to two live Services at once, whatever deletes
them and across a restart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import CORE_SERVICE, NAMESPACE
from app.devcluster.apiserver.rest import Call, Rest
from app.devcluster.apiserver.store import Store


def _open(path: Path) -> Rest:
    store = Store(path)
    rest = Rest(store)  # adds its index before the store opens, as the dev cluster does
    store.open()
    return rest


def _service(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}], **spec}}


def _live_ips(rest: Rest) -> list[str]:
    return [s["spec"]["clusterIP"] for s in rest.store.list(CORE_SERVICE.key)
            if s["spec"].get("clusterIP") not in (None, "", "None")]


def _create(rest: Rest, name: str, **spec: object) -> dict:
    return rest.create(Call(CORE_SERVICE, "ns", name), _service(name, **spec))


def _delete(rest: Rest, name: str) -> None:
    obj = rest.store.get(CORE_SERVICE.key, "ns", name)
    assert obj is not None
    rest.system_delete(CORE_SERVICE, obj)  # as the garbage collector deletes one


def _with_namespace(rest: Rest) -> Rest:
    if rest.store.get(NAMESPACE.key, "", "ns") is None:
        rest.create(Call(NAMESPACE, ""), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    return rest


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["create", "delete", "restart"]), st.integers(0, 12)), max_size=60))
def test_no_two_live_services_share_a_cluster_ip(steps: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.sqlite3"
        rest = _with_namespace(_open(path))
        try:
            for action, number in steps:
                name = f"svc-{number}"
                exists = rest.store.get(CORE_SERVICE.key, "ns", name) is not None
                if action == "create" and not exists:
                    ip = _create(rest, name)["spec"]["clusterIP"]
                    assert ip.startswith("10.96.") and ip not in ("10.96.0.0", "10.96.0.1")
                elif action == "delete" and exists:
                    _delete(rest, name)
                elif action == "restart":
                    rest.store.close()
                    rest = _open(path)
                ips = _live_ips(rest)
                assert len(ips) == len(set(ips)), ips
        finally:
            rest.store.close()


def test_a_deleted_services_address_is_free_again_and_a_taken_one_is_refused(tmp_path: Path) -> None:
    rest = _with_namespace(_open(tmp_path / "store.sqlite3"))
    first = _create(rest, "a")["spec"]["clusterIP"]
    _create(rest, "b", clusterIP="None")  # headless: holds no address
    _create(rest, "c", type="ExternalName", externalName="example.com")
    with pytest.raises(ApiError) as refused:
        _create(rest, "d", clusterIP=first)
    assert refused.value.code == 422
    assert refused.value.message == (
        f'Service "d" is invalid: spec.clusterIPs: Invalid value: []string{{"{first}"}}: failed to allocate IP '
        f"{first}: provided IP is already allocated"
    )  # pkg/registry/core/service/storage/alloc.go since Kubernetes 1.20
    assert refused.value.details["causes"][0]["field"] == "spec.clusterIPs"
    assert rest.store.get(CORE_SERVICE.key, "ns", "d") is None  # nothing written
    _delete(rest, "a")
    assert _create(rest, "d", clusterIP=first)["spec"]["clusterIP"] == first
    assert _create(rest, "e")["spec"]["clusterIP"] != first
    rest.store.close()
