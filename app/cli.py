"""knative-console: `serve` against a cluster, or `dev` with the embedded dev cluster as a child process."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import uvicorn

from app.header_timeout import HeaderTimeoutProtocol
from app.main import create_app
from app.settings import Settings

log = logging.getLogger("knative_console")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(settings: Settings) -> None:
    if not _loopback(settings.host):
        print(f"warning: serving on {settings.host}: the console acts with its kubeconfig's credentials for anyone "
              "who can reach this address. Put it behind authentication.", file=sys.stderr)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                proxy_headers=False, server_header=False, http=HeaderTimeoutProtocol)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to serve the console on (default: 8000)")
    parser.add_argument("--gateway", default=None, metavar="HOST:PORT",
                        help="the ingress gateway address to show, instead of discovering it from config-network")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="knative-console",
        description="A web console for Knative Serving: Services, Revisions and traffic splitting.",
        epilog="Every flag can also be set as an environment variable: KNATIVE_CONSOLE_<FLAG> "
               "(e.g. KNATIVE_CONSOLE_GATEWAY); flags win.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve the console against a cluster",
        description="Serve the console against a Kubernetes cluster that runs Knative Serving. The cluster comes "
                    "from --kubeconfig, then KUBECONFIG, then ~/.kube/config, then the pod's service account.",
    )
    serve.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig file")
    serve.add_argument("--context", default=None, metavar="NAME", help="kubeconfig context (default: current)")
    _common(serve)
    dev = commands.add_parser(
        "dev", help="start the embedded dev cluster and serve the console against it",
        description="Start the embedded dev cluster (python -m app.devcluster) as a child process, wait until it "
                    "is ready, and serve the console against the kubeconfig it writes. Ctrl+C stops both.",
    )
    _common(dev)
    dev.add_argument("--api-port", type=int, default=8001, help="dev cluster API port (default: %(default)s)")
    dev.add_argument("--gateway-port", type=int, default=8080, help="dev cluster gateway port (default: %(default)s)")
    dev.add_argument("--data", type=Path, default=Path(".devcluster"), help="dev cluster data directory "
                     "(default: %(default)s)")
    dev.add_argument("--domain", default="example.com", help="domain for Knative URLs (default: %(default)s)")
    return main


def _wait_ready(process: subprocess.Popen[bytes], kubeconfig: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the dev cluster exited with code {process.returncode}; see its output above")
        if kubeconfig.exists():
            server = next((line.split("server:", 1)[1].strip() for line in kubeconfig.read_text().splitlines()
                           if "server:" in line), "")
            try:
                with urllib.request.urlopen(f"{server}/readyz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return server
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"the dev cluster was not ready within {timeout:.0f} s")


def _dev(args: argparse.Namespace, settings: Settings) -> None:
    kubeconfig = args.data / "kubeconfig"
    if kubeconfig.exists():
        kubeconfig.unlink()
    child = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "app.devcluster", "--host", "127.0.0.1", "--api-port", str(args.api_port),
         "--gateway-port", str(args.gateway_port), "--data", str(args.data), "--domain", args.domain],
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
              f"  Gateway           http://127.0.0.1:{args.gateway_port}\n\n"
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides = {"host": args.host, "port": args.port, "gateway": args.gateway}
    if args.command == "serve":
        overrides.update(kubeconfig=args.kubeconfig, context=args.context)
    settings = Settings.from_env(os.environ, **overrides)
    if args.command == "dev":
        _dev(args, settings)
    else:
        _serve(settings)


if __name__ == "__main__":
    main()
