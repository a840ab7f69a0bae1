"""Revision spec rules: containers, image, ports, env, envFrom, probes, volumes, bounds, warnings."""

import pytest

from app.devcluster.admission import AdmissionDenied, default, validate

IMAGE = "ghcr.io/knative/helloworld-go:latest"
C0 = "spec.template.spec.containers[0]"
INSECURE = "Kubernetes default value is insecure, Knative may default this to secure in a future release"
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
SECURE = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}


def ksvc(template_spec):
    return {"metadata": {"name": "hello", "namespace": "default"}, "spec": {"template": {"spec": template_spec}}}


def admit(template_spec):
    """(denial text or "", warnings) for a Service with this template spec."""
    obj = ksvc(template_spec)
    default("Service", "CREATE", obj, None, "alice")
    try:
        return "", validate("Service", "CREATE", obj, None)
    except AdmissionDenied as denied:
        return denied.text, denied.warnings


def denial(template_spec):
    return admit(template_spec)[0]


def one(**container):
    return {"containers": [{"image": IMAGE, **container}]}


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({}, "missing field(s): spec.template.spec.containers"),
        ({"containers": []}, "missing field(s): spec.template.spec.containers"),
        ({"containers": [{}]}, f"missing field(s): {C0}.image"),
        ({"containers": [{"image": ""}]}, f"missing field(s): {C0}.image"),
        (one(name="queue-proxy"), f'"queue-proxy" is a reserved container name: {C0}.name'),
        (
            one(lifecycle={}, stdin=True),
            f"must not set the field(s): {C0}.lifecycle, {C0}.stdin",
        ),
        (one(command=["/app"], args=["-v"], workingDir="/", imagePullPolicy="Always"), ""),
        (one(terminationMessagePolicy="Bad"), f"invalid value: Bad: {C0}.terminationMessagePolicy"),
        (one(terminationMessagePolicy="FallbackToLogsOnError"), ""),
        (one(resources={"limits": {"cpu": "1"}, "requests": {"memory": "64Mi"}}), ""),
        (one(resources={"claims": [{"name": "gpu"}]}), f"must not set the field(s): {C0}.resources.claims"),
        (one(securityContext={"privileged": True}), f"must not set the field(s): {C0}.securityContext.privileged"),
        (
            one(securityContext={"runAsUser": -1}),
            f"expected 0 <= -1 <= 2147483647: {C0}.securityContext.runAsUser",
        ),
        (
            {
                "containers": [
                    {"name": "a", "image": IMAGE, "ports": [{"containerPort": 8080}]},
                    {"name": "a", "image": IMAGE},
                ]
            },
            'duplicate container name "a": spec.template.spec.containers[1].name',
        ),
    ],
)
def test_containers(spec, text):
    assert denial(spec) == text


@pytest.mark.parametrize(
    "image",
    [
        IMAGE,
        "nginx",
        "localhost:5000/app",
        "docker.io/library/nginx:1.25",
        "gcr.io/x/y@sha256:" + "a" * 64,
        "registry.example.com:443/team/app:v1.2_3",
    ],
)
def test_image_references_that_parse(image):
    assert denial(one(image=image)) == ""


@pytest.mark.parametrize("image", ["Foo", "with space", "img@sha256:short", "reg.io/App", "a:b:c/d"])
def test_image_references_that_do_not_parse(image):
    quoted = '"' + image + '"'
    assert denial(one(image=image)) == (
        f"Failed to parse image reference: {C0}.image\nimage: {quoted}, error: could not parse reference: {image}"
    )


@pytest.mark.parametrize("port", [8012, 8013, 8022, 9090, 9091, 8008])
def test_reserved_ports(port):
    assert denial(one(ports=[{"containerPort": port}])) == (
        f"invalid value: {port} is a reserved port: {C0}.ports.containerPort\n"
        f"{port} is a reserved port, please use a different value"
    )


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        ([{"containerPort": 8080}], ""),
        ([{"containerPort": 8080, "name": "h2c"}], ""),
        ([{"containerPort": 8080, "name": "http1", "protocol": "TCP"}], ""),
        (
            [{"containerPort": 8080, "name": "grpc"}],
            f"Port name grpc is not allowed: {C0}.ports\nName must be empty, or one of: 'h2c', 'http1'",
        ),
        ([{"containerPort": 8080, "protocol": "UDP"}], f"invalid value: UDP: {C0}.ports.protocol"),
        ([{"containerPort": 70000}], f"expected 0 <= 70000 <= 65535: {C0}.ports.containerPort"),
        ([{"containerPort": 8080, "hostPort": 80}], f"must not set the field(s): {C0}.ports.hostPort"),
        (
            [{"containerPort": 8080, "hostPort": 80, "hostIP": "0.0.0.0"}],
            f"must not set the field(s): {C0}.ports.hostIP, {C0}.ports.hostPort",
        ),
        (
            [{"containerPort": 8080}, {"containerPort": 8081}],
            "more than one container port is set: spec.template.spec.containers[*].ports\n"
            "Only a single port is allowed across all containers",
        ),
    ],
)
def test_ports(ports, text):
    assert denial(one(ports=ports)) == text


def test_at_most_one_port_across_containers():
    spec = {
        "containers": [
            {"image": IMAGE, "ports": [{"containerPort": 8080}]},
            {"image": IMAGE, "ports": [{"containerPort": 8081}]},
        ]
    }
    assert denial(spec) == (
        "more than one container port is set: spec.template.spec.containers[*].ports\n"
        "Only a single port is allowed across all containers"
    )


def test_several_containers_need_one_port():
    spec = {"containers": [{"image": IMAGE}, {"image": IMAGE}]}
    assert denial(spec) == "missing field(s): spec.template.spec.containers[*].ports"


@pytest.mark.parametrize("name", ["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"])
def test_reserved_env_names(name):
    text = f'"{name}" is a reserved environment variable: {C0}.env[1].name'
    assert denial(one(env=[{"name": "OK", "value": "1"}, {"name": name, "value": "x"}])) == text


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ([{"value": "x"}], f"missing field(s): {C0}.env[0].name"),
        ([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}], ""),
        ([{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}], ""),
        (
            [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            f"must not set the field(s): {C0}.env[0].valueFrom.fieldRef",
        ),
    ],
)
def test_env(env, text):
    assert denial(one(env=env)) == text


def test_sidecars_may_set_port_but_not_the_other_reserved_names():
    spec = {
        "containers": [
            {"image": IMAGE, "ports": [{"containerPort": 8080}]},
            {"image": IMAGE, "env": [{"name": "PORT", "value": "9000"}, {"name": "K_SERVICE", "value": "x"}]},
        ]
    }
    assert (
        denial(spec) == '"K_SERVICE" is a reserved environment variable: spec.template.spec.containers[1].env[1].name'
    )


@pytest.mark.parametrize(
    ("env_from", "text"),
    [
        ([{"configMapRef": {"name": "c"}}], ""),
        ([{"secretRef": {"name": "s"}, "prefix": "S_"}], ""),
        ([{}], f"expected exactly one, got neither: {C0}.envFrom.configMapRef, {C0}.envFrom.secretRef"),
        (
            [{"configMapRef": {"name": "c"}, "secretRef": {"name": "s"}}],
            f"expected exactly one, got both: {C0}.envFrom.configMapRef, {C0}.envFrom.secretRef",
        ),
        # Knative re-prefixes earlier errors when a later entry has a secretRef; the text shows it.
        (
            [{}, {"secretRef": {"name": "s"}}],
            "expected exactly one, got neither: "
            f"{C0}.envFrom.secretRef[1].configMapRef, {C0}.envFrom.secretRef[1].secretRef",
        ),
    ],
)
def test_env_from(env_from, text):
    assert denial(one(envFrom=env_from)) == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"containerConcurrency": 0}, ""),
        ({"containerConcurrency": 1000}, ""),
        ({"containerConcurrency": 1001}, "expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency"),
        ({"containerConcurrency": -1}, "expected 0 <= -1 <= 1000: spec.template.spec.containerConcurrency"),
        ({"timeoutSeconds": 600}, ""),
        ({"timeoutSeconds": 0}, ""),
        ({"timeoutSeconds": 601}, "expected 0 <= 601 <= 600: spec.template.spec.timeoutSeconds"),
        ({"timeoutSeconds": 700}, "expected 0 <= 700 <= 600: spec.template.spec.timeoutSeconds"),
        ({"timeoutSeconds": -5}, "expected 0 <= -5 <= 600: spec.template.spec.timeoutSeconds"),
        ({"responseStartTimeoutSeconds": 30, "idleTimeoutSeconds": 60}, ""),
        ({"serviceAccountName": "my.service-account"}, ""),
        (
            {"serviceAccountName": "My_SA"},
            f"invalid value: My_SA: spec.template.spec.serviceAccountName\n{DNS1123_SUBDOMAIN}",
        ),
        (
            {"serviceAccountName": "A" * 254},
            f"invalid value: {'A' * 254}: spec.template.spec.serviceAccountName\n{DNS1123_SUBDOMAIN}\n"
            f"invalid value: {'A' * 254}: spec.template.spec.serviceAccountName\n"
            "must be no more than 253 characters",
        ),
        ({"imagePullSecrets": [{"name": "pull"}], "enableServiceLinks": True}, ""),
        ({"nodeSelector": {"disk": "ssd"}}, "must not set the field(s): spec.template.spec.nodeSelector"),
        (
            {"securityContext": {"runAsUser": 1000}, "hostNetwork": True},
            "must not set the field(s): spec.template.spec.hostNetwork, spec.template.spec.securityContext",
        ),
        (
            {"initContainers": [{"image": IMAGE}]},
            "must not set the field(s): spec.template.spec.initContainers\n"
            "pod spec support for init-containers is off, but found 1 init containers: ",
        ),
    ],
)
def test_pod_fields(fields, text):
    assert denial({**one(), **fields}) == text


@pytest.mark.parametrize(
    ("container", "text"),
    [
        ({"readinessProbe": {"httpGet": {"path": "/healthz"}}}, ""),
        ({"readinessProbe": {"httpGet": {"port": "http"}}}, ""),
        (
            {"readinessProbe": {"httpGet": {"port": "admin"}}},
            f"invalid value: admin: {C0}.readinessProbe.httpGet.port\nProbe port must match container port",
        ),
        ({"ports": [{"containerPort": 8080, "name": "h2c"}], "readinessProbe": {"tcpSocket": {"port": "h2c"}}}, ""),
        (
            {"readinessProbe": {"httpGet": {}, "tcpSocket": {}}},
            f"expected exactly one, got both: {C0}.readinessProbe.httpGet, {C0}.readinessProbe.tcpSocket",
        ),
        (
            {"readinessProbe": {"tcpSocket": {}, "failureThreshold": 3}},
            f"failureThreshold is disallowed when periodSeconds is zero: {C0}.readinessProbe.failureThreshold",
        ),
        (
            {"readinessProbe": {"tcpSocket": {}, "timeoutSeconds": 2}},
            f"timeoutSeconds is disallowed when periodSeconds is zero: {C0}.readinessProbe.timeoutSeconds",
        ),
        ({"readinessProbe": {"tcpSocket": {}, "periodSeconds": 5}}, ""),
        (
            {"readinessProbe": {"tcpSocket": {}, "periodSeconds": -1}},
            f"expected 0 <= -1 <= 2147483647: {C0}.readinessProbe.periodSeconds",
        ),
        (
            {"livenessProbe": {"periodSeconds": 10}},
            "expected exactly one, got neither: "
            f"{C0}.livenessProbe.exec, {C0}.livenessProbe.grpc, {C0}.livenessProbe.httpGet, {C0}.livenessProbe.tcpSocket",
        ),
        # Knative prefixes the probe's own disallowed fields with the handler's name too.
        (
            {"readinessProbe": {"tcpSocket": {}, "terminationGracePeriodSeconds": 5}},
            f"must not set the field(s): {C0}.readinessProbe.tcpSocket.terminationGracePeriodSeconds",
        ),
    ],
)
def test_probes(container, text):
    assert denial(one(**container)) == text


def test_sidecar_probes_are_refused():
    spec = {
        "containers": [
            {"image": IMAGE, "ports": [{"containerPort": 8080}]},
            {"image": IMAGE, "readinessProbe": {"tcpSocket": {"port": 8090}, "periodSeconds": 5}},
        ]
    }
    c1 = "spec.template.spec.containers[1]"
    assert denial(spec) == f"must not set the field(s): {c1}.readinessProbe, {c1}.readinessProbe.periodSeconds"


@pytest.mark.parametrize(
    ("volumes", "mounts", "text"),
    [
        ([{"name": "cfg", "secret": {"secretName": "s"}}], [{"name": "cfg", "mountPath": "/etc/cfg"}], ""),
        ([{"name": "cache", "emptyDir": {}}], [{"name": "cache", "mountPath": "/cache", "readOnly": False}], ""),
        (
            [{"name": "cfg", "configMap": {"name": "c"}}],
            [],
            'volume with name "cfg" not mounted: spec.template.spec.volumes[0].name',
        ),
        (
            [],
            [{"name": "cfg", "mountPath": "/etc/cfg"}],
            f"volumeMount has no matching volume: {C0}.volumeMounts[0].name",
        ),
        (
            [{"name": "h", "hostPath": {"path": "/"}}],
            [{"name": "h", "mountPath": "/host"}],
            "expected exactly one, got neither: spec.template.spec.volumes[0].configMap, "
            "spec.template.spec.volumes[0].emptyDir, spec.template.spec.volumes[0].projected, "
            "spec.template.spec.volumes[0].secret\n"
            "must not set the field(s): spec.template.spec.volumes[0].hostPath",
        ),
        (
            [{"name": "cfg", "secret": {"secretName": "s"}}],
            [{"name": "cfg", "mountPath": "/dev"}],
            f'mountPath "/dev" is a reserved path: {C0}.volumeMounts[0].mountPath',
        ),
        (
            [{"name": "cfg", "secret": {"secretName": "s"}}],
            [{"name": "cfg", "mountPath": "etc"}],
            f"invalid value: etc: {C0}.volumeMounts[0].mountPath",
        ),
        (
            [{"name": "a", "secret": {"secretName": "s"}}, {"name": "b", "configMap": {"name": "c"}}],
            [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x/"}],
            f'invalid value: "/x/" must be unique: {C0}.volumeMounts[1].mountPath',
        ),
    ],
)
def test_volumes(volumes, mounts, text):
    assert denial({"containers": [{"image": IMAGE, "volumeMounts": mounts}], "volumes": volumes}) == text


def test_insecure_defaults_warn_without_denying():
    text, warnings = admit(one())
    assert text == ""
    assert warnings == [
        f"{INSECURE}: {C0}.securityContext.allowPrivilegeEscalation, {C0}.securityContext.capabilities, "
        f"{C0}.securityContext.runAsNonRoot, {C0}.securityContext.seccompProfile"
    ]


@pytest.mark.parametrize(
    ("context", "warnings"),
    [
        (SECURE, []),
        ({**SECURE, "seccompProfile": {}}, [f"{INSECURE}: {C0}.securityContext.seccompProfile.type"]),
        ({**SECURE, "capabilities": {}}, [f"{INSECURE}: {C0}.securityContext.capabilities.drop"]),
        (
            {**SECURE, "capabilities": {"drop": ["all"]}},
            [f"invalid value: all: {C0}.securityContext.capabilities.drop\nMust be spelled as 'ALL'"],
        ),
        (
            {**SECURE, "runAsNonRoot": None, "capabilities": {"drop": ["all"]}},
            [
                f"{INSECURE}: {C0}.securityContext.runAsNonRoot\n"
                f"invalid value: all: {C0}.securityContext.capabilities.drop\nMust be spelled as 'ALL'"
            ],
        ),
    ],
)
def test_security_context_warnings(context, warnings):
    assert admit(one(securityContext=context)) == ("", warnings)


def test_pod_level_settings_count_for_the_warnings_and_warnings_ride_along_with_a_denial():
    spec = {
        "containers": [{"image": IMAGE, "securityContext": {**SECURE, "runAsNonRoot": None}}],
        "securityContext": {"runAsNonRoot": True},
    }
    assert admit(spec) == ("must not set the field(s): spec.template.spec.securityContext", [])
    spec = {
        "containers": [{"image": IMAGE, "ports": [{"containerPort": 8080}]}, {"image": IMAGE}],
        "timeoutSeconds": 900,
    }
    text, warnings = admit(spec)
    assert text == "expected 0 <= 900 <= 600: spec.template.spec.timeoutSeconds"
    c1 = "spec.template.spec.containers[1]"
    assert warnings == [
        f"{INSECURE}: {C0}.securityContext.allowPrivilegeEscalation, {C0}.securityContext.capabilities, "
        f"{C0}.securityContext.runAsNonRoot, {C0}.securityContext.seccompProfile, "
        f"{c1}.securityContext.allowPrivilegeEscalation, {c1}.securityContext.capabilities, "
        f"{c1}.securityContext.runAsNonRoot, {c1}.securityContext.seccompProfile"
    ]
