"""The compose file is accepted by `docker compose config`.

Needs Docker (the ``docker`` command and its compose plugin); every test here carries the
``docker`` marker (``pytest -m "not docker"`` leaves them out) and is skipped, with the
reason, where Docker is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"


def _missing_docker() -> str | None:
    """Why these tests cannot run here, or None."""
    if shutil.which("docker") is None:
        return "needs Docker: the docker command is not installed"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        return "needs Docker: the docker compose plugin is not installed"
    return None


_MISSING = _missing_docker()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]


def _config(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NEO4J_PASSWORD"} | env_extra
    return subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True, text=True, env=env,
    )


def test_compose_config_accepts_the_file():
    res = _config({"NEO4J_PASSWORD": "a-long-password"})
    assert res.returncode == 0, res.stderr
    assert '"neo4j:5.26-community"' in res.stdout and '"nvidia"' in res.stdout


def test_compose_has_a_dask_scheduler_and_workers_from_the_project_image():
    default = json.loads(_config({"NEO4J_PASSWORD": "a-long-password"}).stdout)["services"]
    assert {"neo4j", "topo", "dask-scheduler", "dask-worker"} <= set(default) and "dask-worker-gpu" not in default
    res = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--profile", "gpu", "config", "--format", "json"],
        capture_output=True, text=True, env=os.environ | {"NEO4J_PASSWORD": "a-long-password"},
    )
    assert res.returncode == 0, res.stderr
    services = json.loads(res.stdout)["services"]
    for name in ("dask-scheduler", "dask-worker", "dask-worker-gpu"):
        assert services[name]["image"] == services["topo"]["image"]
        assert services[name]["entrypoint"][0] == "dask"
    assert "tcp://dask-scheduler:8786" in services["dask-worker"]["command"]
    assert services["dask-worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_compose_requires_a_password():
    res = _config({})
    assert res.returncode != 0 and "NEO4J_PASSWORD" in res.stderr
