"""Structural schemas for `serving.knative.dev/v1`: Service, Configuration, Revision and Route.

Where the preserve-unknown-fields markers sit follows Knative's own CRDs: the revision's pod
spec, each container and each container port keep unknown fields, so that Knative's webhook,
not the apiserver, answers `must not set the field(s): ...containers[0].lifecycle`. Everything
else (the Service spec, template, traffic entries, env entries, status) is pruned strictly.
"""

from __future__ import annotations

from app.devcluster.apiserver.schema_core import (
    Kind,
    Schema,
    array,
    boolean,
    int_or_string,
    integer,
    obj,
    object_meta_ref,
    preserved,
    string,
    string_list,
    string_map,
    type_meta,
)

GROUP = "serving.knative.dev"



def _quantities(description: str) -> Schema:
    return {
        "type": "object",
        "description": f"{description} Quantities by resource name (cpu, memory, ephemeral-storage), e.g. 500m.",
        "additionalProperties": int_or_string("A resource quantity, e.g. 500m or 128Mi."),
    }


CONTAINER_PROPERTIES: dict[str, Schema] = {
    "name": string("Name of the container. Defaults to user-container (user-container-N for several)."),
    "image": string("Container image reference. Required. Tags are resolved to digests."),
    "command": string_list("Entrypoint, replacing the image's ENTRYPOINT."),
    "args": string_list("Arguments to the entrypoint, replacing the image's CMD."),
    "workingDir": string("Working directory of the container process."),
    "env": array(
        "Environment variables. PORT, K_SERVICE, K_CONFIGURATION and K_REVISION are reserved.",
        obj(
            "One environment variable.",
            {
                "name": string("Name of the variable."),
                "value": string("Literal value; $(VAR) references are expanded."),
                "valueFrom": preserved("Take the value from a ConfigMap key or Secret key."),
            },
        ),
    ),
    "envFrom": array(
        "Sources of many environment variables at once; each needs configMapRef or secretRef.",
        obj(
            "One ConfigMap or Secret whose keys become variables.",
            {
                "prefix": string("Prefix added to every key."),
                "configMapRef": obj(
                    "The ConfigMap to read.",
                    {"name": string("Name of the ConfigMap."), "optional": boolean("Allow it to be missing.")},
                ),
                "secretRef": obj(
                    "The Secret to read.",
                    {"name": string("Name of the Secret."), "optional": boolean("Allow it to be missing.")},
                ),
            },
        ),
    ),
    "ports": array(
        "At most one port across all containers. Without one the app is expected on 8080.",
        obj(
            "The port the container serves on.",
            {
                "containerPort": integer("Port number the app listens on.", "int32"),
                "name": string("Empty or http1 for HTTP/1.1, h2c for HTTP/2 cleartext (gRPC)."),
                "protocol": string("Must be TCP."),
            },
            preserve=True,
        ),
    ),
    "resources": obj(
        "Compute resources of the container.",
        {
            "limits": _quantities("Most the container may use."),
            "requests": _quantities("What the container is guaranteed."),
        },
    ),
    "readinessProbe": preserved("When the container may receive requests. Defaults to a TCP probe."),
    "livenessProbe": preserved("When the container is restarted."),
    "startupProbe": preserved("Delays the other probes until the container has started."),
    "securityContext": preserved("Container security settings Knative allows, e.g. runAsNonRoot."),
    "volumeMounts": array(
        "Volumes mounted into the container.",
        obj(
            "One mounted volume.",
            {
                "name": string("Name of a volume in spec.volumes."),
                "mountPath": string("Path inside the container."),
                "readOnly": boolean("Mount read-only."),
                "subPath": string("Path inside the volume to mount instead of its root."),
            },
        ),
    ),
    "imagePullPolicy": string("Always, IfNotPresent or Never."),
    "terminationMessagePath": string("File the container writes its termination message to."),
    "terminationMessagePolicy": string("File or FallbackToLogsOnError."),
}

CONTAINER = obj("A container of the revision.", CONTAINER_PROPERTIES, preserve=True)

REVISION_SPEC = obj(
    "The containers and pod settings of a revision: a restricted Kubernetes PodSpec plus Knative fields.",
    {
        "containers": array("Containers of the revision; at least one.", CONTAINER),
        "containerConcurrency": integer(
            "Most requests in flight per container at once. 0 (default) means no limit."
        ),
        "timeoutSeconds": integer("Longest time a request may take, in seconds. Defaults to 300; at most 600."),
        "responseStartTimeoutSeconds": integer("Longest wait for the first byte of a response, in seconds."),
        "idleTimeoutSeconds": integer("Longest time a request may go without sending or receiving data."),
        "serviceAccountName": string("Service account the revision's pods run as."),
        "enableServiceLinks": boolean("Inject Kubernetes service links as env vars. Defaulted to false."),
        "automountServiceAccountToken": boolean("Mount the service account token; only false may be set."),
        "imagePullSecrets": array(
            "Secrets used to pull the images.",
            obj("A Secret in the same namespace.", {"name": string("Name of the Secret.")}),
        ),
        "volumes": array(
            "Volumes the containers may mount: secret, configMap, projected or emptyDir.",
            obj("A named volume and its source.", {"name": string("Name of the volume.")}, preserve=True),
        ),
        "initContainers": array("Containers run before the others (behind a feature flag).", CONTAINER),
        "affinity": preserved("Pod scheduling constraints (behind a feature flag)."),
        "nodeSelector": string_map("Node labels the pods must run on (behind a feature flag)."),
        "tolerations": array("Taints the pods tolerate (behind a feature flag).", preserved("A toleration.")),
        "securityContext": preserved("Pod security settings (behind a feature flag)."),
        "runtimeClassName": string("RuntimeClass of the pods (behind a feature flag)."),
    },
    preserve=True,
)

TEMPLATE_METADATA = obj(
    "Labels and annotations copied onto each revision, and an optional revision name.",
    {
        "name": string("Name for the next revision; must start with '<service>-'. Empty: generated."),
        "generateName": string("Prefix for a generated revision name."),
        "namespace": string("Must match the parent's namespace when set."),
        "labels": string_map("Labels for the revision."),
        "annotations": string_map("Annotations for the revision, e.g. autoscaling.knative.dev/min-scale."),
        "finalizers": string_list("Finalizers for the revision."),
    },
    preserve=True,
)

REVISION_TEMPLATE = obj(
    "Template for the revisions this object stamps out.",
    {"metadata": TEMPLATE_METADATA, "spec": REVISION_SPEC},
)


def _traffic_target(where: str) -> Schema:
    return obj(
        f"One entry of the routing table{where}.",
        {
            "revisionName": string("Send this share to the named revision (pinned)."),
            "configurationName": string(
                "Send this share to the configuration's latest ready revision. Routes only, never Services."
            ),
            "latestRevision": boolean(
                "True to follow the latest ready revision; false when revisionName pins one."
            ),
            "percent": integer("Share of traffic, 0 to 100. All entries must add up to 100."),
            "tag": string("Gives this target its own URL, <tag>-<name>.<namespace>.<domain>."),
            "url": string("URL of a tagged target. Set in status only."),
        },
    )


TRAFFIC_SPEC = array("How traffic is split between revisions.", _traffic_target(""))
TRAFFIC_STATUS = array(
    "The traffic split in effect, with every entry resolved to a revision.",
    _traffic_target(" as it is served"),
)

CONDITION = obj(
    "One observed aspect of the object's state.",
    {
        "type": string("Condition type, e.g. Ready."),
        "status": string("True, False or Unknown."),
        "severity": string("Empty for conditions Ready depends on, Info for the others."),
        "lastTransitionTime": string("When the status last changed (RFC 3339)."),
        "reason": string("CamelCase reason for the last change."),
        "message": string("Human-readable details."),
    },
)

ADDRESS = obj(
    "In-cluster address of the object.",
    {
        "url": string("In-cluster URL, http://<name>.<namespace>.svc.cluster.local."),
        "name": string("Name of the address."),
        "CACerts": string("CA certificates for the address, when TLS is used."),
        "audience": string("OIDC audience of the address."),
    },
)


def _status(description: str, fields: dict[str, Schema]) -> Schema:
    return obj(
        description,
        {
            "observedGeneration": integer("The metadata.generation the controller last acted on."),
            "conditions": array("Latest observations, sorted by type.", CONDITION),
            "annotations": string_map("Extra state the controller records."),
            **fields,
        },
    )


LATEST_CREATED = string("Newest revision created from the template; it may not be ready yet.")
LATEST_READY = string("Newest revision that became ready.")
URL = string("External URL, http://<name>.<namespace>.<domain>.")


def _root(description: str, spec: Schema, status: Schema) -> Schema:
    return obj(description, {**type_meta(), "metadata": object_meta_ref(), "spec": spec, "status": status})


SERVICE = _root(
    "A Knative Service: runs the template as revisions and routes traffic to them.",
    obj(
        "Desired state: the revision template and the traffic split.",
        {"template": REVISION_TEMPLATE, "traffic": TRAFFIC_SPEC},
    ),
    _status(
        "Observed state, combined from the Service's Configuration and Route.",
        {
            "url": URL,
            "address": ADDRESS,
            "traffic": TRAFFIC_STATUS,
            "latestCreatedRevisionName": LATEST_CREATED,
            "latestReadyRevisionName": LATEST_READY,
        },
    ),
)

CONFIGURATION = _root(
    "A Configuration: stamps out a new revision each time its template changes.",
    obj("Desired state: the revision template.", {"template": REVISION_TEMPLATE}),
    _status(
        "Observed state of the Configuration.",
        {"latestCreatedRevisionName": LATEST_CREATED, "latestReadyRevisionName": LATEST_READY},
    ),
)

REVISION = _root(
    "A Revision: an immutable snapshot of code and configuration.",
    REVISION_SPEC,
    _status(
        "Observed state of the Revision.",
        {
            "logUrl": string("Where to find the revision's logs."),
            "containerStatuses": array(
                "Resolved image of each container.",
                obj(
                    "A container and its image digest.",
                    {"name": string("Container name."), "imageDigest": string("Image by digest.")},
                ),
            ),
            "initContainerStatuses": array(
                "Resolved image of each init container.",
                obj(
                    "An init container and its image digest.",
                    {"name": string("Container name."), "imageDigest": string("Image by digest.")},
                ),
            ),
            "actualReplicas": integer("Pods running now.", "int32"),
            "desiredReplicas": integer("Pods the autoscaler wants.", "int32"),
        },
    ),
)

ROUTE = _root(
    "A Route: splits traffic over revisions of one or more Configurations.",
    obj("Desired state: the traffic split.", {"traffic": TRAFFIC_SPEC}),
    _status("Observed state of the Route.", {"url": URL, "address": ADDRESS, "traffic": TRAFFIC_STATUS}),
)


def _knative(kind: str, plural: str, schema: Schema) -> Kind:
    return Kind(GROUP, "v1", kind, plural, True, schema, f"dev.knative.serving.v1.{kind}", status_subresource=True)


INGRESS = _root(
    "A Knative Ingress: the hosts and traffic splits the networking layer (Kourier) programs for a Route.",
    obj(
        "Desired state: the rules per visibility.",
        {
            "httpOption": string("Enabled, or Redirected to HTTPS."),
            "rules": array("Hosts and their traffic splits.", preserved("One rule: hosts, visibility, http paths.")),
            "tls": array("TLS certificates per host.", preserved("Hosts and the Secret with their certificate.")),
        },
    ),
    _status(
        "Observed state of the Ingress.",
        {
            "privateLoadBalancer": preserved("Where cluster-local traffic enters."),
            "publicLoadBalancer": preserved("Where external traffic enters."),
        },
    ),
)


KNATIVE_KINDS = (
    _knative("Service", "services", SERVICE),
    _knative("Configuration", "configurations", CONFIGURATION),
    _knative("Revision", "revisions", REVISION),
    _knative("Route", "routes", ROUTE),
    Kind("networking.internal.knative.dev", "v1alpha1", "Ingress", "ingresses", True, INGRESS,
         "dev.knative.internal.networking.v1alpha1.Ingress", status_subresource=True),
)
