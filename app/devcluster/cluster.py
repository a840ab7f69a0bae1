"""Assembles the dev cluster: store, API server, admission, controllers and gateway, started and stopped together."""

from __future__ import annotations

import asyncio
import base64
import copy
import gc as python_gc
import ipaddress
import logging
import os
import secrets
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from app.devcluster.admission.webhooks import KnativeWebhooks
from app.devcluster.apiserver import bootstrap, seed
from app.devcluster.apiserver.aggregation import Aggregation
from app.devcluster.apiserver.audit import AuditLog
from app.devcluster.apiserver.authn import Authenticator, TokenFileError, read_token_file
from app.devcluster.apiserver.certs import Certificates
from app.devcluster.apiserver.escalation import Escalation
from app.devcluster.apiserver.expiry import Expiry
from app.devcluster.apiserver.gc import GarbageCollector
from app.devcluster.apiserver.hosts import own_names
from app.devcluster.apiserver.http import HEADER_TIMEOUT, ApiServer
from app.devcluster.apiserver.metrics import ApiMetrics
from app.devcluster.apiserver.nodes import NodeSize
from app.devcluster.apiserver.nodes import register as register_node
from app.devcluster.apiserver.openapi import OpenApi
from app.devcluster.apiserver.podlogs import ContainerLogs
from app.devcluster.apiserver.quota import PodAdmission, QuotaController
from app.devcluster.apiserver.rbac import Authorizer
from app.devcluster.apiserver.resources import (
    CORE_RESOURCES,
    CORE_SERVICE,
    DEPLOYMENT,
    EVENT,
    POD,
    REPLICASET,
    Registry,
)
from app.devcluster.apiserver.rest import Admission, Rest, Schema
from app.devcluster.apiserver.schema import Schemas
from app.devcluster.apiserver.schema_check import SchemaCheck
from app.devcluster.apiserver.schema_core import CORE_KINDS
from app.devcluster.apiserver.serviceaccounts import ServiceAccounts, StoreLookup
from app.devcluster.apiserver.store import Store
from app.devcluster.apiserver.tokens import Signer
from app.devcluster.apiserver.users import ADMIN, PRIVILEGED_GROUP, UserInfo
from app.devcluster.apiserver.watch import BUFFER, Watches
from app.devcluster.controllers import install
from app.devcluster.controllers.loop import KnativeController
from app.devcluster.crds.resources import INGRESS, KNATIVE_RESOURCES
from app.devcluster.crds.schemas import KNATIVE_KINDS
from app.devcluster.gateway.gateway import KEEP_ALIVE_TIMEOUT, Gateway

log = logging.getLogger("devcluster")
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'
# Held compressed in memory: several of each per revision, alike, and seldom listed whole (see store.py).
PACKED = tuple(r.key for r in (EVENT, POD, REPLICASET, DEPLOYMENT, CORE_SERVICE, INGRESS))


@dataclass
class Config:
    host: str = "127.0.0.1"
    api_port: int = 8001
    gateway_port: int = 8080
    internal_gateway_port: int = 8081
    data: Path = Path(".devcluster")
    domain: str = "example.com"
    revision_start_delay: float = 1.0
    cold_start_delay: float = 1.0  # a revision that had been Ready starts an instance in this long (from zero too)
    restart_backoff: float = 10.0  # the kubelet's first back-off before a restart, or another image pull
    activation_timeout_buffer: float = 30.0  # Knative's activationTimeoutBuffer (autoscaler.ACTIVATION_BUFFER)
    bookmark_interval: float = 30.0
    watch_history: int = 20000
    watch_buffer: int = BUFFER  # events a watcher may fall behind before it is cut off
    event_ttl: float = 3600.0  # seconds an Event lives after its last write, as kube-apiserver's --event-ttl
    header_timeout: float = HEADER_TIMEOUT  # seconds a client gets to send a request's headers
    knative: bool = True  # serve serving.knative.dev; off to stand in for a cluster without Knative
    advertise_host: str = ""  # the host clients reach this server by (kubeconfig, gateway address); default: host
    insecure_allow_remote: bool = False
    token_auth_file: Path | None = None  # more users, as kube-apiserver's --token-auth-file (CSV)
    audit_log_path: Path | None = None  # one audit.k8s.io Event a line per request (kube-apiserver's --audit-log-path)
    node: NodeSize = field(default_factory=NodeSize)  # what the one node offers pods (cpu, memory, pods)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


@dataclass
class DevCluster:
    config: Config
    admission: Admission | None = None
    schemas: Schemas = field(default_factory=Schemas)
    registry: Registry = field(default_factory=Registry)
    controllers: list[Any] = field(default_factory=list)
    gateway: Any = None  # an object with `async start(socket)` and `async stop()`

    def __post_init__(self) -> None:
        self.store = Store(
            self.config.data / "store.sqlite3", self.config.watch_history, ttls={EVENT.key: self.config.event_ttl},
            packed=PACKED,
        )
        schema: Schema = SchemaCheck(self.schemas)
        self.rest = Rest(self.store, self.admission, schema)
        self.watches = Watches(self.store, self.config.bookmark_interval, self.config.watch_buffer)
        self.gc = GarbageCollector(self.rest, self.registry)
        self.expiry = Expiry(self.store)
        self.logs = ContainerLogs()
        self.authorizer = Authorizer(self.store)
        self.rest.guards.append(Escalation(self.authorizer))
        self.rest.pod_plugins.append(PodAdmission(self.store))  # LimitRanger, then ResourceQuota
        self.quotas = QuotaController(self.rest)
        self.aggregation = Aggregation(self.rest)
        self.admin_token = ""
        self.accounts: ServiceAccounts | None = None
        self._audit: AuditLog | None = None
        self._runners: list[web.AppRunner] = []
        self.api_port = self.config.api_port
        self.gateway_port = self.config.gateway_port
        self.internal_gateway_port = self.config.internal_gateway_port

    @property
    def advertised_host(self) -> str:
        return self.config.advertise_host or self.config.host

    @property
    def own_names(self) -> frozenset[str]:
        """The Host names the API and the gateway answer to: their bound address, loopback, the advertised host."""
        return own_names(self.config.host, self.config.advertise_host)

    @property
    def server_url(self) -> str:
        host = self.advertised_host
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}:{self.api_port}"

    async def start(self) -> None:
        if not is_loopback(self.config.host) and not self.config.insecure_allow_remote:
            raise SystemExit(
                f"refusing to serve on {self.config.host}: the dev cluster is for development (its admin token and "
                "users' tokens sit in plain files, its gateway speaks plain HTTP). Bind a loopback address, or pass "
                "--insecure-allow-remote."
            )
        tokens = self._tokens()
        self.certificates = Certificates(self.config.data / "pki", [self.config.host, self.advertised_host])
        api_socket = bind(self.config.host, self.config.api_port)
        gateway_socket = bind(self.config.host, self.config.gateway_port)
        internal_socket = bind(self.config.host, self.config.internal_gateway_port)
        self.api_port = api_socket.getsockname()[1]
        self.gateway_port = gateway_socket.getsockname()[1]
        self.internal_gateway_port = internal_socket.getsockname()[1]
        self.store.open()
        seed.seed(self.rest)
        bootstrap.install(self.rest)
        register_node(self.rest, self.config.node)
        if self.config.knative:
            install.install(self.rest, self.config.domain, self.advertised_host, self.gateway_port,
                            self.internal_gateway_port)
        signer = Signer(self.config.data / "service-account.key")
        self.accounts = ServiceAccounts(self.rest, signer)
        self.accounts.start()
        self.aggregation.start()
        self.gc.start()
        self.quotas.start()
        self.expiry.start()
        for controller in self.controllers:
            controller.start()
        api = ApiServer(
            self.registry, self.rest, self.watches, OpenApi(self.schemas.kinds), f"{self.config.host}:{self.api_port}",
            Authenticator(signer, StoreLookup(self.rest), tokens), self.authorizer, self.accounts,
            ApiMetrics(self.store, self.registry), allowed_hosts=self.own_names,
            header_timeout=self.config.header_timeout, logs=self.logs,
            audit=AuditLog(self.config.audit_log_path) if self.config.audit_log_path else None,
        )
        self._audit = api.audit
        await self._serve(api.application(), api_socket, self.certificates.server_context())
        if self.gateway is not None:
            await self.gateway.start(gateway_socket, internal_socket)
        else:
            gateway_socket.close()
            internal_socket.close()
        self.write_kubeconfig()
        # What start-up built (the store's indexes, schemas, modules) lives as long as the process: keep the
        # collector from walking it again and again, as every full collection would.
        python_gc.freeze()
        log.info("API server on %s, gateway on http://%s:%d (internal: %d), data in %s", self.server_url,
                 self.config.host, self.gateway_port, self.internal_gateway_port, self.config.data)

    def _tokens(self) -> dict[str, UserInfo]:
        """The admin's token (kept in the data directory, made on first start) and the --token-auth-file's."""
        path = self.config.data / "admin-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
        self.admin_token = path.read_text().strip()
        tokens: dict[str, UserInfo] = {}
        if self.config.token_auth_file is not None:
            try:
                tokens = read_token_file(self.config.token_auth_file)
            except TokenFileError as error:
                raise SystemExit(f"devcluster: {error}") from None
        tokens[self.admin_token] = UserInfo(ADMIN, ADMIN, (PRIVILEGED_GROUP,))
        return tokens

    async def _serve(self, app: web.Application, sock: socket.socket, tls: ssl.SSLContext) -> None:
        runner = web.AppRunner(app, access_log_format=ACCESS_LOG_FORMAT, handle_signals=False, shutdown_timeout=2)
        await runner.setup()
        await TlsSite(runner, sock, ssl_context=tls, handshake_timeout=self.config.header_timeout).start()
        self._runners.append(runner)

    async def stop(self) -> None:
        self.watches.stop()
        self.logs.close()  # `kubectl logs -f` streams end, as they do when a node goes away
        for _ in range(50):
            if not self.watches.open:
                break
            await asyncio.sleep(0.02)
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.gateway is not None:
            await self.gateway.stop()
        for controller in reversed(self.controllers):
            await controller.stop()
        await self.expiry.stop()
        await self.quotas.stop()
        await self.gc.stop()
        await self.aggregation.stop()
        if self.accounts is not None:
            await self.accounts.stop()
        if self._audit is not None:
            self._audit.close()
        self.store.close()

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "devcluster", "cluster": {
                "server": self.server_url,
                "certificate-authority-data": base64.b64encode(self.certificates.ca_pem).decode(),
            }}],
            "contexts": [
                {
                    "name": "devcluster",
                    "context": {"cluster": "devcluster", "namespace": "default", "user": "devcluster"},
                }
            ],
            "current-context": "devcluster",
            "users": [{"name": "devcluster", "user": {"token": self.admin_token}}],
            "preferences": {},
        }

    def write_kubeconfig(self) -> Path:
        path = self.config.data / "kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it carries the admin's token
        with os.fdopen(fd, "w") as out:
            out.write(yaml.safe_dump(copy.deepcopy(self.kubeconfig()), sort_keys=False))
        tmp.replace(path)
        return path


class TlsSite(web.SockSite):
    """A listening socket served over TLS, whose handshake must also finish within the header timeout (asyncio's
    own default is 60 s: a client that connects and says nothing would hold the connection that long)."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, *, ssl_context: ssl.SSLContext,
                 handshake_timeout: float) -> None:
        super().__init__(runner, sock, ssl_context=ssl_context, shutdown_timeout=2)
        self.handshake_timeout = handshake_timeout

    async def start(self) -> None:
        await web.BaseSite.start(self)
        assert self._runner.server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._runner.server, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog,
            ssl_handshake_timeout=self.handshake_timeout,
        )


def build(config: Config) -> DevCluster:
    """The dev cluster as `python -m app.devcluster` runs it: the API server plus Knative Serving."""
    if not config.knative:
        # A plain Kubernetes API: what a cluster without Knative Serving looks like to a client.
        return DevCluster(config)
    webhooks = KnativeWebhooks()
    cluster = DevCluster(
        config, admission=webhooks, schemas=Schemas(KNATIVE_KINDS + CORE_KINDS),
        registry=Registry(CORE_RESOURCES + KNATIVE_RESOURCES),
    )
    controller = KnativeController(cluster.rest, config.revision_start_delay, config.cold_start_delay, cluster.logs,
                                   config.restart_backoff, config.activation_timeout_buffer)
    # The webhook validates against config-autoscaler as the controllers read it: parsed once per version, the last
    # valid settings kept.
    webhooks.autoscaling = controller.context.autoscaler_config
    cluster.controllers.append(controller)
    # The gateway only reads; what a request does to the cluster goes through the autoscaler (the activator's part).
    cluster.gateway = Gateway(cluster.store, cluster.own_names, min(config.header_timeout, KEEP_ALIVE_TIMEOUT),
                              backends=controller.autoscaler)
    return cluster
