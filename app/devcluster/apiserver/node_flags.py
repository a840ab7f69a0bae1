"""The node's size as both command lines take it (`python -m app.devcluster` and `knative-console dev`): the parsers,
the defaults and the help, in a module light enough for the console's own command line to import."""

from __future__ import annotations

import argparse

from app.devcluster.apiserver.quantity import quantity_error, quantity_value

DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS = "8", "16Gi", 110  # 110 pods: the kubelet's default --max-pods


def node_quantity(text: str) -> str:
    """A positive Kubernetes quantity (`4`, `3500m`, `16Gi`) for the node's cpu or memory, kept as typed."""
    problem = quantity_error(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a quantity ({problem}): use e.g. 4, 3500m, 16Gi")
    value = quantity_value(text)
    if value is None or value * 1000 <= 0:  # its MilliValue(): what the scheduler counts cpu in
        raise argparse.ArgumentTypeError(f"{text!r} is not above zero (nor beyond 10^1000)")
    return text


def node_pods(text: str) -> int:
    """How many pods the node takes: a whole number, at least 1."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pods, at least 1")
    return int(text)


def add_node_flags(parser: argparse.ArgumentParser) -> None:
    """--node-cpu, --node-memory and --node-pods, with their defaults."""
    parser.add_argument("--node-cpu", type=node_quantity, default=DEFAULT_CPU, metavar="QUANTITY",
                        help="CPU the dev cluster's one node (`devcluster`) offers pods, as a Kubernetes quantity "
                        "(e.g. 4, 3500m): the scheduler leaves a pod Pending (Unschedulable) when the cpu requests of "
                        "the pods on the node and its own would exceed it (default: %(default)s)")
    parser.add_argument("--node-memory", type=node_quantity, default=DEFAULT_MEMORY, metavar="QUANTITY",
                        help="memory the node offers pods, as a Kubernetes quantity (e.g. 512Mi, 16Gi) "
                        "(default: %(default)s)")
    parser.add_argument("--node-pods", type=node_pods, default=DEFAULT_PODS, metavar="N",
                        help="how many pods the node takes, like the kubelet's --max-pods; further pods stay Pending "
                        "(default: %(default)s, as the kubelet's)")
