"""Where the templates and static files are, in an installed console and in a checkout.

The wheel maps the repository's top-level templates/ and static/ into the `app` package, so an installed
console finds them as package data; a checkout (or an editable install) has them beside app/.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


class AssetsMissing(RuntimeError):
    """Neither the installed package nor the checkout has the directory: a broken build or install."""


def directory(name: str) -> Path:
    """The directory `name` (templates or static) as a real path, for Jinja's loader and StaticFiles."""
    packaged = files("app").joinpath(name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    beside = CHECKOUT / name
    if beside.is_dir():
        return beside
    raise AssetsMissing(f"the console's {name}/ is neither in the installed package ({packaged}) nor in a checkout "
                        f"({beside}): reinstall knative-console from a wheel or sdist built by its pyproject.toml")
