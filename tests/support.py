"""Shared test helpers: a dev cluster in its own process, and kubectl as a real client of it."""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = ("1.27", "1.33")
# Loopback requests must never go through a proxy the environment may configure.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def kubectl_binary(version: str) -> str:
    path = KUBECTL_DIR / f"kubectl.{version}"
    if path.exists():
        return str(path)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is not installed: install the Google Cloud SDK 'kubectl' package")
    return found


_started: list[DevClusterProcess] = []


@atexit.register
def _stop_leftovers() -> None:
    """A test that failed or was interrupted must not leave a dev cluster running."""
    for cluster in _started:
        if cluster.process is not None and cluster.process.poll() is None:
            cluster.process.kill()


@dataclass
class DevClusterProcess:
    """`python -m app.devcluster` on free loopback ports with its own data directory."""

    data: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    api_url: str = ""
    gateway_url: str = ""
    internal_gateway_url: str = ""  # the cluster-local gateway (kourier-internal)
    log_path: Path | None = None
    connect_host: str = ""  # reach the API here rather than at the kubeconfig's host (e.g. an --advertise-host)
    token: str = ""  # the admin's bearer token, from the kubeconfig the cluster writes
    users: tuple[str, ...] = ()  # users of a token file (--token-auth-file), each with a token of their own
    user_tokens: dict[str, str] = field(default_factory=dict)
    _tls: ssl.SSLContext | None = field(default=None, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def kubeconfig(self) -> Path:
        return self.data / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        """The cluster CA: the API is served over TLS (kubectl sends a kubeconfig's token only over https)."""
        return self.data / "pki" / "ca.crt"

    def tls(self) -> ssl.SSLContext:
        """A client context that trusts the cluster's CA, for raw HTTP clients (httpx `verify=`, aiohttp `ssl=`):
        one per cluster, so that aiohttp's pool keeps reusing connections made with it."""
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=str(self.ca_file))
        return self._tls

    @property
    def auth(self) -> dict[str, str]:
        """The admin's Authorization header, for raw HTTP clients."""
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, timeout: float = 20.0) -> DevClusterProcess:
        self._local = threading.local()  # connections to a cluster that ran before are gone
        self.data.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        self.log_path = self.data / "devcluster.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process owns it until stop()
        args = [
            sys.executable, "-m", "app.devcluster", "--host", "127.0.0.1", "--api-port", "0",
            "--gateway-port", "0", "--internal-gateway-port", "0", "--data", str(self.data), *self.extra_args,
        ]
        if self.users:
            self.user_tokens = self.user_tokens or {user: f"{user}-{uuid.uuid4().hex}" for user in self.users}
            token_file = self.data / "users.csv"
            token_file.write_text("".join(f"{token},{user},{user}-uid\n" for user, token in self.user_tokens.items()))
            args += ["--token-auth-file", str(token_file)]
        # Its own session: a terminal's Ctrl+C reaches the caller, which then stops the cluster in order.
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _started.append(self)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.kubeconfig.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dev cluster did not start:\n{self.log()}")
            time.sleep(0.05)
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.api_url = config["clusters"][0]["cluster"]["server"]
        self.token = config["users"][0]["user"]["token"]
        if self.connect_host:
            self.api_url = f"https://{self.connect_host}:{self.api_url.rsplit(':', 1)[1]}"
        wait_ok(self.api_url + "/readyz", deadline, self.tls())
        code, _, kourier = self.request("GET", "/api/v1/namespaces/kourier-system/services/kourier")
        if code == 200:  # absent when started --without-knative
            self.gateway_url = f"http://127.0.0.1:{kourier['spec']['ports'][0]['port']}"
            internal = self.get("/api/v1/namespaces/kourier-system/services/kourier-internal")
            self.internal_gateway_url = f"http://127.0.0.1:{internal['spec']['ports'][0]['port']}"
        return self

    def configure_autoscaler(self, **data: str) -> None:
        """Set keys of knative-serving/config-autoscaler (the controllers take them up at once)."""
        code, _, body = self.request("PATCH", "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
                                     {"data": data}, content_type="application/merge-patch+json")
        assert code == 200, body

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    # -- raw HTTP ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json",
        headers: dict[str, str] | None = None, raw: bytes | None = None, token: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One request as the admin (or with `token`; "" sends none: anonymous), over a kept-alive TLS connection
        of this thread's."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Accept-Encoding": "identity"}
        if data is not None and content_type:
            sent["Content-Type"] = content_type
        token = self.token if token is None else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        for attempt in range(2):
            connection, reused = self._connection()
            try:
                connection.request(method, path, body=data, headers=sent)
                response = connection.getresponse()
                payload = response.read()
                break
            except TimeoutError:
                connection.close()
                self._local.connection = None
                raise
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt or not reused:  # a kept-alive connection the server had closed: send it once more
                    raise
        code, response_headers = response.status, dict(response.getheaders())
        try:
            decoded: Any = json.loads(payload) if payload else None
        except ValueError:
            decoded = payload.decode(errors="replace")
        return code, response_headers, decoded

    def _connection(self) -> tuple[http.client.HTTPSConnection, bool]:
        """This thread's connection to the API, and whether it has been used before."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection.host_port == self.api_url:
            return connection, True
        host, port = self.api_url.removeprefix("https://").rsplit(":", 1)
        connection = http.client.HTTPSConnection(host.strip("[]"), int(port), context=self.tls(), timeout=30)
        connection.host_port = self.api_url
        self._local.connection = connection
        return connection, False

    def new_namespace(self, prefix: str = "t") -> str:
        """A fresh namespace, so that tests sharing one cluster never see each other's objects."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        code, _, body = self.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        assert code == 201, body
        return name

    @contextmanager
    def images(self, key: str, value: str) -> Iterator[None]:
        """The dev cluster's images ConfigMap (`devcluster-system/images`) with `key` (failing, unready, ...) set to
        `value` while this lasts; what the key held before is put back after."""
        path = "/api/v1/namespaces/devcluster-system/configmaps/images"
        before = self.get(path)["data"].get(key)
        code, _, body = self.request("PATCH", path, {"data": {key: value}}, content_type="application/merge-patch+json")
        assert code == 200, body
        try:
            yield
        finally:
            code, _, body = self.request("PATCH", path, {"data": {key: before}},
                                         content_type="application/merge-patch+json")
            assert code == 200, body

    def get(self, path: str) -> Any:
        code, _, body = self.request("GET", path)
        assert code == 200, (code, body)
        return body

    def bind(self, namespace: str, cluster_role: str, user: str = "", service_account: str = "") -> str:
        """A RoleBinding in `namespace` of `cluster_role` to a user or to a service account of that namespace (its
        name is returned)."""
        subject = ({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user} if user else
                   {"kind": "ServiceAccount", "name": service_account, "namespace": namespace})
        name = f"{user or service_account}-{cluster_role}-{uuid.uuid4().hex[:6]}"
        code, _, body = self.request("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
                                     {"metadata": {"name": name}, "subjects": [subject],
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": cluster_role}})
        assert code == 201, body
        return name

    def service_account_token(self, namespace: str, name: str, cluster_role: str = "") -> str:
        """A token of a new service account (TokenRequest), bound to `cluster_role` in its namespace if given."""
        code, _, body = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                                     {"metadata": {"name": name}})
        assert code == 201, body
        if cluster_role:
            self.bind(namespace, cluster_role, service_account=name)
        code, _, body = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                                     {"spec": {}})
        assert code == 201, body
        return str(body["status"]["token"])

    def audit_events(self, username: str = "") -> list[dict[str, Any]]:
        """The audit log's events (a cluster started with --audit-log-path), of one user if named."""
        path = self.data / "audit.log"
        events = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
        return [e for e in events if not username or e["user"]["username"] == username]

    def kubeconfig_for(self, path: Path, token: str) -> Path:
        """The cluster's kubeconfig with another user's token in it."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": "someone", "user": {"token": token}}]
        config["contexts"][0]["context"]["user"] = "someone"
        path.write_text(yaml.safe_dump(config))
        return path

    # -- kubectl ----------------------------------------------------------------------------

    def kubectl(self, version: str, *args: str, check: bool = True, timeout: float = 60,
                input: str | None = None, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        env["KUBECACHEDIR"] = str(cache) if cache else tempfile.mkdtemp(prefix="kubecache-")
        result = subprocess.run(
            [kubectl_binary(version), *args], env=env, capture_output=True, text=True, timeout=timeout, input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


def wait_ok(url: str, deadline: float, context: ssl.SSLContext | None = None) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer ok")
        time.sleep(0.05)


def hold_connections(port: int, count: int, first_bytes: bytes, tls: ssl.SSLContext | None = None
                     ) -> list[socket.socket]:
    """`count` connections to a loopback port that send `first_bytes` (part of a request, or nothing) and wait;
    over TLS (the handshake done) when given a context."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
        if first_bytes:
            sock.sendall(first_bytes)
        sock.setblocking(False)
        held.append(sock)
    return held


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end has closed a non-blocking connection (anything it sent is read and dropped)."""
    try:
        return sock.recv(1024) == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def ksvc_manifest(name: str, namespace: str = "default", image: str = "ghcr.io/knative/helloworld-go:latest",
                  env: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    body: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [container]}}, **spec},
    }
    return body


def start_cluster(data: Path, *extra: str) -> DevClusterProcess:
    return DevClusterProcess(data, list(extra)).start()


__all__ = ["DevClusterProcess", "KUBECTL_VERSIONS", "ksvc_manifest", "start_cluster", "wait_for", "wait_ok"]


if __name__ == "__main__":  # pragma: no cover - a manual aid: start one and print where it is
    cluster = start_cluster(Path(tempfile.mkdtemp()))
    print(cluster.api_url, cluster.gateway_url, cluster.kubeconfig)
    try:
        signal.pause()
    finally:
        cluster.stop()
