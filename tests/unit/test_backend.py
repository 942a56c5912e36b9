"""Choosing CPU or GPU: the extra whose CuPy wheel matches torch's CUDA major version, and the error without CuPy."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from topo_graphdb import backend
from topo_graphdb.errors import BackendUnavailable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


@pytest.mark.parametrize("torch_cuda, extra", [("13.2", "gpu"), ("13.0", "gpu"), ("12.8", "gpu-cuda12"), (None, "gpu"), ("", "gpu"), ("11.8", "gpu")])
def test_gpu_extra_for_torch_cuda(torch_cuda, extra):
    assert backend.gpu_extra_for(torch_cuda) == extra


@pytest.mark.parametrize("major, extra", sorted(backend.GPU_EXTRAS.items()))
def test_each_gpu_extra_installs_the_cupy_wheel_of_its_cuda_major(major, extra):
    wheels = [re.match(r"cupy-cuda(\d+)x", req) for req in _extras()[extra]]
    assert [int(m.group(1)) for m in wheels if m] == [major]


def test_the_installed_torch_gets_a_matching_cupy():
    torch = pytest.importorskip("torch")
    if torch.version.cuda is None:
        pytest.skip("a CPU-only torch build")
    extra = backend.gpu_extra_for(torch.version.cuda)
    major = int(torch.version.cuda.split(".")[0])
    assert any(req.startswith(f"cupy-cuda{major}x") for req in _extras()[extra]), (torch.version.cuda, extra)


def test_gpu_without_cupy_names_the_extra_to_install(monkeypatch):
    monkeypatch.setattr(backend, "_cupy_status", lambda: (None, "CuPy is not installed"))
    monkeypatch.setattr(backend, "_torch_cuda", lambda: "12.6")
    with pytest.raises(BackendUnavailable) as err:
        backend.resolve_backend("gpu")
    assert "topo-graphdb[gpu-cuda12]" in err.value.hint
