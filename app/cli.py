"""knative-console: `serve` against a cluster, or `dev` with the embedded dev cluster as a child process."""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import logging
import os
import signal
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from types import FrameType

import uvicorn
import yaml
from fastapi import FastAPI

from app import logs
from app.cluster.client import Cluster, KubeconfigError
from app.devcluster.apiserver.node_flags import add_node_flags
from app.header_timeout import HeaderTimeoutProtocol
from app.main import create_app
from app.settings import Settings, SettingsError
from app.web.auth import MODES

log = logging.getLogger("knative_console")
SHUTDOWN_SECONDS = 5  # then open responses are cut off
SECRET_KEY = "KNATIVE_CONSOLE_SECRET_KEY"
SECRET_KEY_LENGTH = 32  # characters at least: `openssl rand -base64 32` makes 44


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(settings: Settings) -> None:
    if settings.auth == "kubeconfig" and not _loopback(settings.host):
        if not settings.insecure_allow_unauthenticated:
            raise SystemExit(
                f"refusing to serve on {settings.host} with --auth kubeconfig: anyone who reaches this address would "
                "act with the console's own credentials. Use --auth token (users sign in with their own tokens) or "
                "--auth proxy (behind an authenticating proxy), or pass --insecure-allow-unauthenticated.")
        log.warning("serving on %s without authentication (--insecure-allow-unauthenticated): the console acts with "
                    "its kubeconfig's credentials for anyone who can reach this address. Set --allowed-hosts to the "
                    "names it is served as.", settings.host)
    _load_cluster_configuration(settings)
    # uvicorn's own lines go through app.logs' handler; app.access writes the access lines. The loop is uvloop
    # where that is installed (a dependency except on Windows), the parser httptools'.
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", log_config=None,
                            access_log=False, proxy_headers=False, server_header=False, loop="auto",
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS, http=HeaderTimeoutProtocol)
    Server(config, app).run()


def _load_cluster_configuration(settings: Settings) -> None:
    """Exit with the reason, in one line, when the kubeconfig (or the in-cluster configuration) cannot be loaded:
    found in the app's start-up, it would be a traceback. Nothing is asked of the cluster here (a kubeconfig's exec
    credential plugin runs, once more than it would otherwise)."""
    async def load() -> None:
        await (await Cluster.connect(settings.kubeconfig, settings.context, settings.request_timeout)).close()

    try:
        asyncio.run(load())
    except KubeconfigError as error:
        raise SystemExit(f"knative-console: {str(error).rstrip('.')}. Name a readable kubeconfig with --kubeconfig "
                         "(or KUBECONFIG), or run the console in a pod with a service account.") from None


def _secret_key_problem(environ: Mapping[str, str]) -> str:
    """Why KNATIVE_CONSOLE_SECRET_KEY cannot be used (it signs every form and encrypts sessions), or ""."""
    key = environ.get(SECRET_KEY)
    if key is None or len(key.strip()) >= SECRET_KEY_LENGTH:
        return ""
    return (f"{SECRET_KEY} is {len(key.strip())} characters long: it signs every form and encrypts the sessions, so "
            f"it must be at least {SECRET_KEY_LENGTH} random characters, the same on every replica. Make one with "
            "`openssl rand -base64 32`.")


def _warn_without_secret_key(settings: Settings, environ: Mapping[str, str]) -> None:
    """Only where users sign in: one person's console (kubeconfig mode, `docker compose up` too) loses no more than a
    form left open across a restart."""
    if SECRET_KEY in environ or settings.auth == "kubeconfig":
        return
    log.warning("%s is not set: this process made a random key, so sign-ins and open forms end when it restarts, and "
                "replicas behind one address refuse each other's (their forms get 403 and users are signed out). Set "
                "the same key on every replica: `openssl rand -base64 32`.", SECRET_KEY)


class Server(uvicorn.Server):
    """uvicorn, which on Ctrl+C or SIGTERM also ends the live streams: it waits for open responses to finish,
    and a live page's never would."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.console = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        live = getattr(self.console.state, "live", None)
        if live is not None:
            with suppress(RuntimeError):  # no loop running: nothing is streaming
                asyncio.get_running_loop().call_soon_threadsafe(live.shut)
        super().handle_exit(sig, frame)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to serve the console on (default: 8000)")
    parser.add_argument("--gateway", default=None, metavar="HOST:PORT",
                        help="the ingress gateway address to show, instead of discovering it from config-network")
    parser.add_argument("--allowed-hosts", default=None, metavar="HOST[,HOST...]",
                        help="the host names the console is served as; requests with any other Host header get 400 "
                             "(DNS-rebinding protection). Default: the --host address, localhost, 127.0.0.1 and "
                             "[::1]. '*' accepts any Host: unsafe, only behind a proxy that checks it")
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None,
                        help="text (default) or json: one object a line with time, level, logger, message, "
                             "request_id, route, status, duration_ms and user (passed on to the dev cluster by `dev`)")
    parser.add_argument("--auth", choices=MODES, default=None,
                        help="how users are known. kubeconfig (default): everyone acts as the console's own "
                             "credentials, shown in the top bar; only on a loopback address unless "
                             "--insecure-allow-unauthenticated. token: a sign-in page takes each user's bearer token "
                             "(a ServiceAccount or OIDC token), kept only in an encrypted cookie; every call is made "
                             "with it. proxy: behind an authenticating proxy that sends each request's token as "
                             "Authorization: Bearer or X-Forwarded-Access-Token")
    parser.add_argument("--insecure-allow-unauthenticated", action="store_true", default=None,
                        help="with --auth kubeconfig, serve on a non-loopback --host anyway: anyone who reaches it "
                             "acts with the console's credentials")
    parser.add_argument("--session-idle", type=float, default=None, metavar="SECONDS",
                        help="--auth token: a session ends after this long without a request (default: 1800). Set "
                             "KNATIVE_CONSOLE_SECRET_KEY, the same on every replica, so that sessions outlive a "
                             "restart")
    parser.add_argument("--sign-out-url", default=None, metavar="URL",
                        help="--auth proxy: where Sign out leads, e.g. /oauth2/sign_out for oauth2-proxy "
                             "(default: no Sign out)")


_DEFAULTS = Settings(secret_key="")
ENVIRONMENT = (
    "Each flag above can also be set as an environment variable, KNATIVE_CONSOLE_<FLAG> (e.g. KNATIVE_CONSOLE_GATEWAY, "
    "KNATIVE_CONSOLE_ALLOWED_HOSTS); flags win.{dev_only} Settings without a flag: "
    "KNATIVE_CONSOLE_SECRET_KEY (signs forms and encrypts sessions; at least 32 characters, the same on every "
    "replica; random per process when unset), KNATIVE_CONSOLE_NAMESPACE (what / opens; default: the context's), "
    f"KNATIVE_CONSOLE_REQUEST_TIMEOUT (seconds per cluster call, {_DEFAULTS.request_timeout:g}), "
    f"KNATIVE_CONSOLE_PAGE_SIZE (Services per page, {_DEFAULTS.page_size}), KNATIVE_CONSOLE_LIST_CACHE_SERVICES "
    f"({_DEFAULTS.list_cache_services}; 0 turns the list caches off), KNATIVE_CONSOLE_LIVE_MAX_STREAMS (live pages "
    f"open at once, {_DEFAULTS.live_max_streams}), KNATIVE_CONSOLE_LIVE_MAX_STREAMS_PER_USER "
    f"({_DEFAULTS.live_max_streams_per_user}), KNATIVE_CONSOLE_LIVE_HEARTBEAT (seconds, {_DEFAULTS.live_heartbeat:g})."
)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, except that it never breaks a line inside a flag (`--node-` / `memory`)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(self._whitespace_matcher.sub(" ", text).strip(), width, initial_indent=indent,
                             subsequent_indent=indent, break_on_hyphens=False)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="knative-console", formatter_class=_HelpFormatter,
        description="A web console for Knative Serving: Services, Revisions and traffic splitting.",
        epilog="Every flag of serve, and those dev shares with it, can also be set as an environment variable: "
               "KNATIVE_CONSOLE_<FLAG> (e.g. KNATIVE_CONSOLE_GATEWAY); flags win. `knative-console serve --help` "
               "lists the settings that have no flag.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", formatter_class=_HelpFormatter, help="serve the console against a cluster",
        description="Serve the console against a Kubernetes cluster that runs Knative Serving. The cluster comes "
                    "from --kubeconfig, then KUBECONFIG, then ~/.kube/config, then the pod's service account.",
        epilog=ENVIRONMENT.format(dev_only=""),
    )
    serve.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig file")
    serve.add_argument("--context", default=None, metavar="NAME", help="kubeconfig context (default: current)")
    _common(serve)
    dev = commands.add_parser(
        "dev", formatter_class=_HelpFormatter, help="start the embedded dev cluster and serve the console against it",
        description="Start the embedded dev cluster (python -m app.devcluster) as a child process, wait until it "
                    "is ready, and serve the console against the kubeconfig it writes. Ctrl+C stops both.",
        epilog=ENVIRONMENT.format(dev_only=" The dev cluster's own (--api-port, --gateway-port, "
                                  "--internal-gateway-port, --data, --domain, --node-cpu, --node-memory, --node-pods) "
                                  "are flags only."),
    )
    _common(dev)
    dev.add_argument("--api-port", type=int, default=8001, help="dev cluster API port (default: %(default)s)")
    dev.add_argument("--gateway-port", type=int, default=8080, help="dev cluster gateway port (default: %(default)s)")
    dev.add_argument("--internal-gateway-port", type=int, default=8081,
                     help="dev cluster internal (cluster-local) gateway port (default: %(default)s)")
    dev.add_argument("--data", type=Path, default=Path(".devcluster"), help="dev cluster data directory "
                     "(default: %(default)s)")
    dev.add_argument("--domain", default="example.com", help="domain for Knative URLs (default: %(default)s)")
    add_node_flags(dev)
    return main


def _server_of(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    """The dev cluster's API address and a TLS context that trusts its CA, from the kubeconfig it wrote."""
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return cluster["server"], ssl.create_default_context(cadata=ca)


def _wait_ready(process: subprocess.Popen[bytes], kubeconfig: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the dev cluster exited with code {process.returncode}; see its output above")
        try:
            server, tls = _server_of(kubeconfig)
            with urllib.request.urlopen(f"{server}/readyz", timeout=2, context=tls) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            pass  # not written yet, or not serving yet
        time.sleep(0.1)
    raise SystemExit(f"the dev cluster was not ready within {timeout:.0f} s")


def _dev(args: argparse.Namespace, settings: Settings) -> None:
    kubeconfig = args.data / "kubeconfig"
    if kubeconfig.exists():
        kubeconfig.unlink()
    child = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "app.devcluster", "--host", "127.0.0.1", "--api-port", str(args.api_port),
         "--gateway-port", str(args.gateway_port), "--internal-gateway-port", str(args.internal_gateway_port),
         "--data", str(args.data), "--domain", args.domain, "--log-format", settings.log_format,
         "--node-cpu", args.node_cpu, "--node-memory", args.node_memory, "--node-pods", str(args.node_pods)],
        start_new_session=True,
    )
    # uvicorn re-raises the signal that stopped it once it is done; as SystemExit it runs the
    # `finally` below, so the dev cluster is stopped too (a bare SIGTERM would leave it running).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))
    try:
        server = _wait_ready(child, kubeconfig)
        print(f"\n  Knative Console   http://{settings.host}:{settings.port}\n"
              f"  Dev cluster API   {server}\n"
              f"  Gateway           http://127.0.0.1:{args.gateway_port}"
              f" (cluster-local: http://127.0.0.1:{args.internal_gateway_port})\n\n"
              f"  kubectl --kubeconfig {kubeconfig} get ksvc\n", flush=True)
        _serve(replace(settings, kubeconfig=str(kubeconfig), dev_cluster=True))
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    overrides = {"host": args.host, "port": args.port, "gateway": args.gateway, "log_format": args.log_format,
                 "allowed_hosts": args.allowed_hosts, "auth": args.auth,
                 "insecure_allow_unauthenticated": args.insecure_allow_unauthenticated,
                 "session_idle": args.session_idle, "sign_out_url": args.sign_out_url}
    if args.command == "serve":
        overrides.update(kubeconfig=args.kubeconfig, context=args.context)
    try:
        settings = Settings.from_env(os.environ, **overrides)
    except SettingsError as error:
        parser().error(str(error))
    try:
        logs.configure(settings.log_format)
    except ValueError as error:
        parser().error(f"{error} (KNATIVE_CONSOLE_LOG_FORMAT)")
    if settings.auth not in MODES:
        parser().error(f"the auth mode must be one of {', '.join(MODES)}, not {settings.auth!r} (KNATIVE_CONSOLE_AUTH)")
    if problems := settings.problems():
        parser().error("; ".join(problems))
    if problem := _secret_key_problem(os.environ):
        parser().error(problem)
    _warn_without_secret_key(settings, os.environ)
    if args.command == "dev":
        _dev(args, settings)
    else:
        _serve(settings)


if __name__ == "__main__":
    main()
