"""The distribution: the runtime dependencies are what the runtime imports, the lock files pin all of them, and
the built sdist and wheel carry templates/, static/ and the LICENSE, so that the wheel, installed into a fresh
virtual environment outside the checkout, runs `knative-console dev` from another directory and serves a page,
htmx and the CSS."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.web.render import HTMX
from tests.browser.conftest import free_port
from tests.support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Imported at run time by a dependency that does not declare them, for a feature the console uses.
UNDECLARED_BY_USERS = {"jinja2": "fastapi.templating.Jinja2Templates", "httptools": "uvicorn.HttpToolsProtocol",
                       "uvloop": 'uvicorn.loop="auto"'}


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


def _imported_distributions() -> set[str]:
    """The distributions whose modules app/ imports (at any depth, conditionally or not), outside the stdlib."""
    owners = packages_distributions()
    found: set[str] = set()
    for source in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"app"}:
                assert top in owners, f"{source.relative_to(ROOT)} imports {top}, which no installed distribution has"
                found.update(canonicalize_name(d) for d in owners[top])
    return found


def test_runtime_dependencies_are_what_the_runtime_imports() -> None:
    declared = set(_requirements(PYPROJECT["project"]["dependencies"]))
    assert _imported_distributions() == declared - set(UNDECLARED_BY_USERS)
    assert set(UNDECLARED_BY_USERS) <= declared
    sources = "\n".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))
    for needed_by in UNDECLARED_BY_USERS.values():
        assert needed_by.split(".")[-1] in sources, f"nothing uses {needed_by} any more"


def _lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            package, version = line.split(";")[0].split("\\")[0].strip().split("==")
            pins[canonicalize_name(package)] = version
    return pins


def test_the_locks_pin_every_dependency_within_its_range() -> None:
    """Fails when pyproject.toml changed without `make lock`."""
    runtime, test = _lock("runtime.txt"), _lock("test.txt")
    wanted = [("runtime.txt", runtime, PYPROJECT["project"]["dependencies"]),
              ("test.txt", test, PYPROJECT["project"]["dependencies"]),
              ("test.txt", test, PYPROJECT["project"]["optional-dependencies"]["test"])]
    for lock_name, pins, specs in wanted:
        for name, requirement in _requirements(specs).items():
            assert name in pins, f"{name} is not in requirements/{lock_name}: run `make lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), \
                f"requirements/{lock_name} pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
    assert {name: test[name] for name in runtime} == runtime, "the tests run other versions than the image"


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build(dist: Path) -> tuple[Path, Path]:
    """The sdist, and the wheel built from it (as pip builds one from PyPI's sdist)."""
    name = _run(sys.executable, "-c", "import sys; from hatchling.build import build_sdist; "
                "print(build_sdist(sys.argv[1]))", dist).strip()
    sdist = dist / name
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", sdist, "-w", dist)
    wheel = next(dist.glob("*.whl"))
    return sdist, wheel


def _check_contents(sdist: Path, wheel: Path) -> None:
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for kept in ("LICENSE", "pyproject.toml", "README.md", "requirements/runtime.txt", f"static/{HTMX}",
                 "static/app.css", "templates/base.html", "app/main.py"):
        assert kept in names, f"{kept} is not in the sdist {top}"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for template in (ROOT / "templates").iterdir():
        assert f"app/templates/{template.name}" in names
    for asset in (ROOT / "static").iterdir():
        assert f"app/static/{asset.name}" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"app"}, tops  # no tests/, templates/ at the top


def _wait_for_page(http: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"knative-console dev exited:\n{log.read_text()}"
        try:
            page = http.get("/", follow_redirects=True)
            if page.status_code == 200:
                return page
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"no page within 60 s:\n{log.read_text()}"
        time.sleep(0.2)


def test_the_wheel_installs_and_serves(tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("wheel")
    assert ROOT not in work.parents
    sdist, wheel = _build(work / "dist")
    _check_contents(sdist, wheel)
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    _run(*pip, "--require-hashes", "-r", ROOT / "requirements" / "runtime.txt")  # what the image installs
    _run(*pip, "--no-deps", wheel)
    located = _run(venv / "bin" / "python", "-c", "import app; print(app.__file__)", cwd=work)
    assert Path(located.strip()).is_relative_to(venv), located

    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    ports = [free_port() for _ in range(4)]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    log = work / "console.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [venv / "bin" / "knative-console", "dev", "--port", str(ports[0]), "--api-port", str(ports[1]),
             "--gateway-port", str(ports[2]), "--internal-gateway-port", str(ports[3]), "--data", "data"],
            cwd=elsewhere, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=10) as http:
            page = _wait_for_page(http, process, log)
            assert page.url.path == "/namespaces/default/services" and "Service Management" in page.text
            assert f'src="/static/{HTMX}"' in page.text
            htmx = http.get(f"/static/{HTMX}")
            assert htmx.status_code == 200 and htmx.content == (ROOT / "static" / HTMX).read_bytes()
            css = http.get("/static/app.css")
            assert css.status_code == 200 and css.content == (ROOT / "static" / "app.css").read_bytes()
            assert http.get("/readyz").text == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
