"""`python -m app.devcluster`: run the dev cluster until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.http_exceptions import BadHttpMessage

from app.devcluster.apiserver.http import HEADER_TIMEOUT
from app.devcluster.apiserver.node_flags import add_node_flags
from app.devcluster.apiserver.nodes import NodeSize
from app.devcluster.apiserver.watch import BUFFER
from app.devcluster.cluster import Config, build

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration(text: str) -> float:
    """Seconds from `90`, or from a Go duration such as `1h0m0s`, `30m` or `1.5s`."""
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use seconds, or e.g. 90s, 30m, 1h") from None
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration")
    return seconds


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger and message (and the exception, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"), "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class NotHttp(logging.Filter):
    """aiohttp logs a request that is not valid HTTP (a control character in a header, say) as an ERROR with a
    traceback and the offending line, which may hold a token: one INFO line instead, with the parser's reason and
    without the bytes sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, BadHttpMessage):
            reason = str(error.message).strip().split(":", 1)[0].splitlines()[0] or "not parsed"
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "a request that is not valid HTTP from %s was answered 400: %s", (peer, reason)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def log_to_stderr(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("aiohttp.server").addFilter(NotHttp())


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m app.devcluster",
        description=(
            "A Kubernetes-compatible API server with Knative Serving's admission rules, its controllers (revisions "
            "with Deployments and Pods, the autoscaler, gradual rollouts) and a traffic-splitting gateway, for running "
            "the console without a cluster. No containers run: each revision answers like the helloworld sample, and "
            "the ConfigMap devcluster-system/images says which images fail. It writes a kubeconfig into the data "
            "directory for kubectl and the console."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s; loopback only "
                        "unless --insecure-allow-remote)")
    parser.add_argument("--advertise-host", default="", metavar="HOST",
                        help="host written into the kubeconfig and advertised as the gateway's load-balancer "
                        "address, when clients reach this server by another name; the API and the gateway accept it "
                        "as a request's Host besides --host and loopback's names (default: --host)")
    parser.add_argument("--api-port", type=int, default=8001, help="Kubernetes API port (default: %(default)s)")
    parser.add_argument("--gateway-port", type=int, default=8080,
                        help="external ingress gateway port, advertised by kourier-system/kourier; it answers a "
                        "route's public hosts (default: %(default)s)")
    parser.add_argument("--internal-gateway-port", type=int, default=8081,
                        help="internal (cluster-local) gateway port, Service kourier-system/kourier-internal; it "
                        "answers *.svc.cluster.local hosts and cluster-local Services as well (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path(".devcluster"),
                        help="data directory: store.sqlite3 and kubeconfig (default: %(default)s)")
    parser.add_argument("--domain", default="example.com",
                        help="domain seeded into knative-serving/config-domain on first start (default: %(default)s)")
    parser.add_argument("--revision-start-delay", type=float, default=1.0, metavar="SECONDS",
                        help="how long a new revision's first instances take to start, so how long it takes to "
                        "become Ready (default: %(default)s)")
    parser.add_argument("--cold-start-delay", type=float, default=1.0, metavar="SECONDS",
                        help="how long an instance of a revision that has been Ready takes to start: what a request "
                        "to a revision scaled to zero waits, as the activator holds it (default: %(default)s)")
    parser.add_argument("--restart-backoff", type=float, default=10.0, metavar="SECONDS",
                        help="the kubelet's first back-off before restarting a container that exited, or pulling "
                        "again an image that could not be pulled; it doubles with each try, up to 5 minutes "
                        "(default: %(default)s, as the kubelet's)")
    parser.add_argument("--activation-timeout-buffer", type=float, default=30.0, metavar="SECONDS",
                        help="what the autoscaler adds to config-deployment's progress-deadline before it scales a "
                        "revision that never became active to zero (default: %(default)s, as Knative's "
                        "activationTimeoutBuffer)")
    parser.add_argument("--bookmark-interval", type=float, default=30.0, metavar="SECONDS",
                        help="idle time before a watch that allows bookmarks gets one (default: %(default)s)")
    parser.add_argument("--watch-history", type=int, default=20000, metavar="N",
                        help="changes kept for watches to resume from; older resourceVersions get 410 Expired "
                        "(default: %(default)s)")
    parser.add_argument("--watch-buffer", type=int, default=BUFFER, metavar="N",
                        help="events a watch client may fall behind before it is cut off and has to list again "
                        "(default: %(default)s)")
    parser.add_argument("--event-ttl", type=duration, default="1h", metavar="DURATION",
                        help="how long an Event is kept after its last update, like kube-apiserver's --event-ttl: "
                        "seconds or a duration such as 90s, 30m, 1h (default: 1h)")
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT, metavar="SECONDS",
                        help="how long a client may take to send a request's headers, and stay idle between "
                        "requests, before the API closes the connection; the gateway allows at most 5 "
                        "(default: %(default)s)")
    add_node_flags(parser)
    parser.add_argument("--without-knative", action="store_true",
                        help="serve only the core Kubernetes API, like a cluster where Knative is not installed")
    parser.add_argument("--token-auth-file", type=Path, default=None, metavar="FILE",
                        help="more users, in kube-apiserver's --token-auth-file format: CSV lines "
                        "'token,user,uid,\"group1,group2\"'. The admin token (user devcluster-admin, group "
                        "system:masters) is kept in the data directory and written into the kubeconfig")
    parser.add_argument("--audit-log-path", type=Path, default=None, metavar="FILE",
                        help="write one audit.k8s.io/v1 Event a line for each request (level Metadata: who, what, "
                        "the authorization decision, the response code), like kube-apiserver's --audit-log-path")
    parser.add_argument("--insecure-allow-remote", action="store_true",
                        help="allow a non-loopback --host; the API is HTTPS with a CA made on the spot, but the tokens "
                        "sit in plain files and the gateway speaks plain HTTP")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log level; info logs one line per request (default: %(default)s)")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="text, or json: one object a line with time, level, logger and message "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    log_to_stderr(args.log_level, args.log_format)
    return Config(
        host=args.host, api_port=args.api_port, gateway_port=args.gateway_port,
        internal_gateway_port=args.internal_gateway_port, data=args.data,
        domain=args.domain, revision_start_delay=args.revision_start_delay,
        cold_start_delay=max(args.cold_start_delay, 0.0), restart_backoff=max(args.restart_backoff, 0.05),
        activation_timeout_buffer=max(args.activation_timeout_buffer, 0.0),
        bookmark_interval=args.bookmark_interval, watch_history=max(args.watch_history, 1),
        insecure_allow_remote=args.insecure_allow_remote, knative=not args.without_knative,
        advertise_host=args.advertise_host, watch_buffer=max(args.watch_buffer, 1), event_ttl=args.event_ttl,
        header_timeout=args.header_timeout, token_auth_file=args.token_auth_file, audit_log_path=args.audit_log_path,
        node=NodeSize(args.node_cpu, args.node_memory, args.node_pods),
    )


async def run(config: Config) -> None:
    cluster = build(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    await stop.wait()
    logging.getLogger("devcluster").info("shutting down")
    await cluster.stop()


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        asyncio.run(run(config))
    except OSError as error:
        sys.exit(f"devcluster: {error}")


if __name__ == "__main__":
    main()
