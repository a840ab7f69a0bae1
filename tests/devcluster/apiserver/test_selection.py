"""Lists by label go through the store's indexes (the owner labels Knative and the console select on) and
answer exactly what a scan would: equality and set-based selectors, indexed and plain labels together, field
selectors, every namespace at once, paging with continue, and a relabelled object moving between answers."""

from __future__ import annotations

from urllib.parse import quote

from tests.support import DevClusterProcess, ksvc_manifest, wait_for

SERVICES = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions"
ALL_REVISIONS = "/apis/serving.knative.dev/v1/revisions"
SERVICE_LABEL = "serving.knative.dev/service"


def _names(cluster: DevClusterProcess, path: str, selector: str, extra: str = "") -> list[str]:
    body = cluster.get(f"{path}?labelSelector={quote(selector)}{extra}")
    return [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in body["items"]]


def test_label_selected_lists_answer_what_a_scan_would(devcluster: DevClusterProcess) -> None:
    namespaces = [devcluster.new_namespace("sel"), devcluster.new_namespace("sel")]
    for ns in namespaces:
        for name in ("a", "b", "c"):
            manifest = ksvc_manifest(name, ns)
            manifest["spec"]["template"]["metadata"] = {"labels": {"tier": "web" if name != "c" else "db"}}
            code, _, body = devcluster.request("POST", SERVICES.format(ns=ns), manifest)
            assert code == 201, body
    first, second = namespaces
    wait_for(lambda: len(devcluster.get(REVISIONS.format(ns=second))["items"]) == 3, message="revisions")

    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL}=a") == [f"{first}/a-00001"]
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL} in (a,c)") == [
        f"{first}/a-00001", f"{first}/c-00001"]
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL} in (a,c),tier=web") == [
        f"{first}/a-00001"]
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL}!=a") == [
        f"{first}/b-00001", f"{first}/c-00001"]
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL}=b",
                  "&fieldSelector=metadata.name%3Dnope") == []
    everywhere = _names(devcluster, ALL_REVISIONS, f"{SERVICE_LABEL}=b")
    assert [n for n in everywhere if n.split("/")[0] in namespaces] == sorted([f"{first}/b-00001", f"{second}/b-00001"])

    page = devcluster.get(f"{REVISIONS.format(ns=first)}?labelSelector=tier%3Dweb&limit=1")
    assert [i["metadata"]["name"] for i in page["items"]] == ["a-00001"] and page["metadata"]["remainingItemCount"] == 1
    rest = devcluster.get(f"{REVISIONS.format(ns=first)}?labelSelector=tier%3Dweb&continue={page['metadata']['continue']}")
    assert [i["metadata"]["name"] for i in rest["items"]] == ["b-00001"]

    code, _, body = devcluster.request("PATCH", REVISIONS.format(ns=first) + "/c-00001",
                                       {"metadata": {"labels": {SERVICE_LABEL: "a"}}},
                                       content_type="application/merge-patch+json")
    assert code == 200, body
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL}=a") == [
        f"{first}/a-00001", f"{first}/c-00001"]
    assert _names(devcluster, REVISIONS.format(ns=first), f"{SERVICE_LABEL}=c") == []
