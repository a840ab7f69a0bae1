"""`python -m bench [NAME ...]`: run the named benchmarks, or every one, in order.

Each benchmark is a module with a `main()` that prints its own report; register it below.
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "devcluster": "bench.devcluster",
    "scale": "bench.scale",
    "console": "bench.console",
    "release_safety": "bench.release_safety",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    try:
        for index, name in enumerate(names):
            if index:
                print()
            importlib.import_module(BENCHMARKS[name]).main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
