"""The dev cluster as `python -m app.devcluster` runs it: the API server plus Knative Serving."""

from __future__ import annotations

from app.devcluster.cluster import Config, DevCluster
from app.devcluster.controller import KnativeController
from app.devcluster.gateway import Gateway
from app.devcluster.resources import CORE_RESOURCES, Registry
from app.devcluster.schema_check import SchemaCheck
from app.devcluster.webhooks import KnativeWebhooks


def build(config: Config) -> DevCluster:
    if not config.knative:
        # A plain Kubernetes API: what a cluster without Knative Serving looks like to a client.
        return DevCluster(config, schema=SchemaCheck(), registry=Registry(CORE_RESOURCES))
    cluster = DevCluster(config, admission=KnativeWebhooks(), schema=SchemaCheck())
    cluster.controllers.append(KnativeController(cluster.rest, config.revision_start_delay))
    cluster.gateway = Gateway(cluster.store)
    return cluster
