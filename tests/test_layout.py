"""The package layout: envs installed under rltransfer's namespace, module sizes, the built wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"rltransfer": "rltransfer", "envs": "rltransfer/envs"}
"""Source folder → where its files land in the installed package."""
MAX_MODULE_LINES = 400


def test_user_envs_package_does_not_shadow_rltransfer_envs(tmp_path: Path) -> None:
    """A user's project with its own `envs` package still gets the rltransfer/ ids (issue 16)."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text('"""The user\'s own task code."""\nUNRELATED = 42\n')
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import envs
            import gymnasium as gym

            import rltransfer
            from rltransfer.selection import rank_teachers

            assert envs.UNRELATED == 42, envs.__file__
            assert rltransfer.envs is not envs
            gym.make("rltransfer/CartPole-Permuted-v0").reset(seed=0)
            rankings = rank_teachers(
                "rltransfer/CartPole-Permuted-v0", {str(ROOT / "agents")!r}, teachers=["cartpole-ppo"], budget=500
            )
            print("ranked", [ranking.teacher for ranking in rankings])
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ranked ['cartpole-ppo']" in result.stdout


def test_public_api_is_lazy_and_complete() -> None:
    """`import rltransfer` registers the ids without loading torch; every public name resolves."""
    code = (
        "import sys, gymnasium as gym, rltransfer\n"
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules\n"
        "assert 'rltransfer/CartPole-Permuted-v0' in gym.registry\n"
        "missing = [name for name in rltransfer.__all__ if getattr(rltransfer, name, None) is None]\n"
        "assert not missing, missing\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def _modules() -> list[Path]:
    return sorted(path for folder in PACKAGE_DIRS for path in (ROOT / folder).rglob("*.py"))


def test_no_module_over_400_lines() -> None:
    """Modules stay small and topical (STYLE.md); split a long one along its seams."""
    too_long = {}
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names in a wheel built from a clean copy of the sources (no stale build/ folder)."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in PACKAGE_DIRS:
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), "."]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = out.glob("rltransfer-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_installs_envs_under_rltransfer(wheel_names: set[str]) -> None:
    assert "rltransfer/envs/__init__.py" in wheel_names
    assert "rltransfer/envs/py.typed" in wheel_names
    assert not [name for name in wheel_names if name.startswith("envs/")]
    top_level = {name.split("/")[0] for name in wheel_names if not name.startswith("rltransfer-")}
    assert top_level == {"rltransfer"}


def test_wheel_holds_no_benchmark_code(wheel_names: set[str]) -> None:
    """Benchmarks live beside the library (top-level benchmarks/), not in what users install."""
    assert not [name for name in wheel_names if "benchmark" in name], sorted(wheel_names)


def test_wheel_holds_every_source_file(wheel_names: set[str]) -> None:
    """Every module and data file ships: a new package folder must be listed in pyproject.toml."""
    expected = set()
    for folder, installed in PACKAGE_DIRS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yml", ".typed", ".json") and "__pycache__" not in path.parts:
                expected.add(f"{installed}/{path.relative_to(ROOT / folder).as_posix()}")
    missing = sorted(expected - wheel_names)
    assert not missing, f"not in the wheel (add the package to [tool.setuptools] packages): {missing}"
