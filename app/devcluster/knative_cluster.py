"""The dev cluster as `python -m app.devcluster` runs it: the API server plus Knative Serving."""

from __future__ import annotations

from app.devcluster.cluster import Config, DevCluster
from app.devcluster.controller import KnativeController
from app.devcluster.gateway import Gateway
from app.devcluster.schema_check import SchemaCheck
from app.devcluster.webhooks import KnativeWebhooks


def build(config: Config) -> DevCluster:
    cluster = DevCluster(config, admission=KnativeWebhooks(), schema=SchemaCheck())
    cluster.controllers.append(KnativeController(cluster.rest, config.revision_start_delay))
    cluster.gateway = Gateway(cluster.store)
    return cluster
