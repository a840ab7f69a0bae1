"""The setup files: docker-compose.yml and the Dockerfile parse, and every command they name exists and
accepts its flags (no Docker engine runs here); the README's two commands; CI calls only `make test`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.cli import parser as console_parser
from app.devcluster.__main__ import parse_args as devcluster_args

ROOT = Path(__file__).resolve().parent.parent


def _check_command(command: list[str]) -> None:
    assert command[:2] == ["python", "-m"], command
    module, args = command[2], command[3:]
    assert (ROOT / module.replace(".", "/")).with_suffix(".py").exists() or (ROOT / module.replace(".", "/")).is_dir()
    if module == "app.cli":
        console_parser().parse_args(args)
    elif module == "app.devcluster":
        devcluster_args(args)
    else:
        raise AssertionError(f"unknown module {module}")


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"devcluster", "console"} <= set(services)
    devcluster, console = services["devcluster"], services["console"]
    assert "/readyz" in " ".join(devcluster["healthcheck"]["test"])
    for name in ("console", "console-real"):
        assert "http://127.0.0.1:8000/readyz" in " ".join(services[name]["healthcheck"]["test"]), name
    assert console["depends_on"]["devcluster"]["condition"] == "service_healthy"
    volume = devcluster["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert any(v.startswith(f"{volume}:") for v in console["volumes"])
    assert "127.0.0.1:8080:8080" in devcluster["ports"] and "127.0.0.1:8000:8000" in console["ports"]
    assert "/data/kubeconfig" in console["command"]
    for service in services.values():
        _check_command(service["command"])
    assert services["console-real"]["profiles"] == ["real-cluster"]


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    user = re.search(r"^USER (\S+)$", text, re.M)
    assert user and user.group(1).isdigit() and user.group(1) != "0"  # numeric: runAsNonRoot can check it
    assert "[test]" not in text and "pytest" not in text and "test.txt" not in text
    assert "pip install --require-hashes -r /tmp/runtime.txt" in text
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    healthcheck = re.search(r"^HEALTHCHECK .*\n(?:.*\n)*?\s+CMD (\[.*\])$", text, re.M)
    assert healthcheck and "http://127.0.0.1:8000/livez" in healthcheck.group(1)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd
    _check_command(yaml.safe_load(cmd.group(1)))


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".devcluster", "tests", ".git", "**/__pycache__", ".pytest_cache", ".mypy_cache"} <= ignored
    copied = {"app", "templates", "static", "requirements", "pyproject.toml", "README.md", "LICENSE"}
    assert not copied & ignored


def test_readme_gives_the_two_commands_first() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_ci_runs_make_test_and_nothing_else() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    commands = [line for line in lines if not line.startswith(("set ", "cd "))]
    assert commands == ["CI=true make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "bench:"):
        assert re.search(rf"^{target}", makefile, re.M), target
    assert "knative-console dev" in makefile
    test_recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "pytest" in test_recipe and " -k" not in test_recipe
