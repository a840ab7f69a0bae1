"""Traffic defaulting and the rules V1-V11 for Services and Routes, with merged, sorted messages."""

import pytest

from app.devcluster.admission import AdmissionDenied, default, validate
from tests.devcluster.admission.helpers import denial

DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def ksvc(traffic=None):
    spec = {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go"}]}}}
    if traffic is not None:
        spec["traffic"] = traffic
    return {"metadata": {"name": "hello", "namespace": "default"}, "spec": spec}


def route(traffic):
    return {"metadata": {"name": "hello", "namespace": "default"}, "spec": {"traffic": traffic}}




@pytest.mark.parametrize(
    ("traffic", "defaulted"),
    [
        (None, [{"latestRevision": True, "percent": 100}]),
        ([], [{"latestRevision": True, "percent": 100}]),
        ([{"percent": 100}], [{"latestRevision": True, "percent": 100}]),
        ([{"revisionName": "hello-00001"}], [{"revisionName": "hello-00001", "latestRevision": False, "percent": 0}]),
        (
            [{"tag": "v2", "latestRevision": True, "percent": 0}, {"revisionName": "hello-00001", "percent": 100}],
            [
                {"tag": "v2", "latestRevision": True, "percent": 0},
                {"revisionName": "hello-00001", "latestRevision": False, "percent": 100},
            ],
        ),
    ],
)
def test_service_traffic_defaults(traffic, defaulted):
    obj = ksvc(traffic)
    default("Service", "CREATE", obj, None, "alice")
    assert obj["spec"]["traffic"] == defaulted


def test_route_traffic_is_not_defaulted_when_empty():
    obj = route([])
    default("Route", "CREATE", obj, None, "alice")
    assert obj["spec"]["traffic"] == []
    obj = route([{"configurationName": "hello"}])
    default("Route", "CREATE", obj, None, "alice")
    assert obj["spec"]["traffic"] == [{"configurationName": "hello", "latestRevision": True, "percent": 0}]


@pytest.mark.parametrize(
    ("traffic", "text"),
    [
        (None, ""),
        ([{"latestRevision": True, "percent": 50}, {"revisionName": "hello-00001", "percent": 50}], ""),
        # V1, counted after defaulting: an entry without percent counts 0.
        ([{"percent": 50}], "Traffic targets sum to 50, want 100: spec.traffic"),
        ([{"revisionName": "a"}], "Traffic targets sum to 0, want 100: spec.traffic"),
        (
            [{"percent": 60}, {"revisionName": "hello-00001", "percent": 60}],
            "Traffic targets sum to 120, want 100: spec.traffic",
        ),
        # V2
        (
            [{"latestRevision": True, "percent": 101}, {"revisionName": "hello-00001", "percent": -1}],
            "expected 0 <= -1 <= 100: spec.traffic[1].percent\nexpected 0 <= 101 <= 100: spec.traffic[0].percent",
        ),
        # V3, V4
        (
            [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}],
            'may not set revisionName "hello-00001" when latestRevision is true: spec.traffic[0].latestRevision',
        ),
        (
            [{"latestRevision": False, "percent": 100}],
            'may not set revisionName "" when latestRevision is false: spec.traffic[0].latestRevision',
        ),
        # V5, with or without a revisionName
        (
            [{"configurationName": "hello", "percent": 100}],
            "must not set the field(s): spec.traffic[0].configurationName",
        ),
        (
            [{"configurationName": "hello", "revisionName": "hello-00001", "percent": 100}],
            "must not set the field(s): spec.traffic[0].configurationName",
        ),
        # V8
        (
            [{"revisionName": "-bad", "percent": 100}],
            f'invalid key name "-bad": spec.traffic[0].revisionName\n{QUALIFIED}',
        ),
        ([{"revisionName": "Other_Rev.1", "percent": 100}], ""),
        # V9: once, whether or not the entry has a tag
        ([{"percent": 100, "url": "http://x"}], "must not set the field(s): spec.traffic[0].url"),
        ([{"percent": 100, "tag": "t", "url": "http://x"}], "must not set the field(s): spec.traffic[0].url"),
        # V10: the index sits after "tag"
        (
            [{"tag": "V1", "percent": 100}],
            f"invalid value: not a DNS 1035 label: [{DNS1035}]: spec.traffic.tag[0]",
        ),
        (
            [{"tag": "a" * 64, "percent": 100}],
            "invalid value: not a DNS 1035 label: [must be no more than 63 characters]: spec.traffic.tag[0]",
        ),
        (
            [{"tag": "A" * 64, "percent": 100}],
            f"invalid value: not a DNS 1035 label: [must be no more than 63 characters {DNS1035}]: spec.traffic.tag[0]",
        ),
        # V11
        (
            [{"tag": "a", "percent": 50}, {"tag": "a", "revisionName": "hello-00001", "percent": 50}],
            'Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag',
        ),
        (
            [{"tag": "a", "percent": 40}, {"tag": "a", "percent": 30}, {"tag": "a", "percent": 30}],
            'Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag, spec.traffic[2].tag',
        ),
        # Not checked at admission.
        ([{"revisionName": "hello-00001", "percent": 50}, {"revisionName": "hello-00001", "percent": 50}], ""),
        ([{"percent": 50}, {"percent": 50}], ""),
        ([{"revisionName": "other-service-00001", "percent": 100, "tag": "x" * 63}], ""),
    ],
)
def test_service_traffic_rules(traffic, text):
    assert denial("Service", ksvc(traffic)) == text


@pytest.mark.parametrize(
    ("traffic", "text"),
    [
        ([{"configurationName": "hello", "percent": 100}], ""),
        ([{"revisionName": "hello-00001", "percent": 100}], ""),
        ([], "Traffic targets sum to 0, want 100: spec.traffic"),
        # V6, V7
        (
            [{"revisionName": "r", "configurationName": "c", "percent": 100}],
            "expected exactly one, got both: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
        ),
        (
            [{"percent": 100}],
            "expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
        ),
        # V8 on a Route's configurationName
        (
            [{"configurationName": "bad name", "percent": 100}],
            f'invalid key name "bad name": spec.traffic[0].configurationName\n{QUALIFIED}',
        ),
        (
            [
                {"configurationName": "hello", "percent": 100, "tag": "a"},
                {"revisionName": "r", "percent": 0, "tag": "a"},
            ],
            'Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag',
        ),
    ],
)
def test_route_traffic_rules(traffic, text):
    assert denial("Route", route(traffic)) == text


def test_many_errors_are_merged_sorted_and_joined():
    obj = ksvc(
        [
            {"revisionName": "a", "percent": 150, "tag": "Bad"},
            {"tag": "Bad", "configurationName": "x", "url": "http://x"},
        ]
    )
    obj["spec"]["template"]["spec"]["containers"] = [{}]
    assert denial("Service", obj) == "\n".join(
        [
            'Multiple definitions for "Bad": spec.traffic[0].tag, spec.traffic[1].tag',
            "Traffic targets sum to 150, want 100: spec.traffic",
            "expected 0 <= 150 <= 100: spec.traffic[0].percent",
            f"invalid value: not a DNS 1035 label: [{DNS1035}]: spec.traffic.tag[0], spec.traffic.tag[1]",
            "missing field(s): spec.template.spec.containers[0].image",
            "must not set the field(s): spec.traffic[1].configurationName, spec.traffic[1].url",
        ]
    )


def test_denial_message_is_the_apiserver_text():
    obj = ksvc([{"percent": 90}])
    default("Service", "CREATE", obj, None, "alice")
    with pytest.raises(AdmissionDenied) as denied:
        validate("Service", "CREATE", obj, None)
    assert denied.value.message == (
        'admission webhook "validation.webhook.serving.knative.dev" denied the request: '
        "validation failed: Traffic targets sum to 90, want 100: spec.traffic"
    )
    assert str(denied.value) == denied.value.message
