"""A fresh install without the serving libraries: the deployment fails with one line that names the
missing package and the command that installs it, never a traceback.

The replicas run in a real Python environment that lacks the packages: a venv made here (without pip,
in a fraction of a second) whose site-packages holds links to only the packages the test lets it
have, taken from the test environment. That is what a fresh ``pip install modelyard`` without the
``serve`` extra is, without installing anything from an index (slow, and the suite runs offline)."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import modelyard
from modelyard.controller import Controller
from modelyard.controller.backends.local import LocalBackend
from tests.controller.conftest import settled, spec, wait_for

# what `modelyard serve-model` needs from outside the standard library before the model's libraries
SERVING_BASE = ("httptools", "orjson", "uvloop", "pyyaml")


def closure(*distributions: str) -> set[str]:
    """``distributions`` and everything they require (as pip would install them), by name."""
    found: set[str] = set()
    todo = list(distributions)
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower()
        if key in found:
            continue
        found.add(key)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    return found


def top_level(distribution: str) -> set[str]:
    """The names in site-packages that a distribution installed (packages, modules, .libs folders)."""
    files = metadata.distribution(distribution).files or []
    return {f.parts[0] for f in files if f.parts and not f.parts[0].startswith("..")}


@pytest.fixture(scope="session")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """``environment(*distributions, without=...)`` -> the python of a venv that has only
    ``distributions`` and what they require (checked not to include ``without``)."""
    site = Path(sysconfig.get_paths()["purelib"])

    def make(*distributions: str, without: str) -> str:
        root = tmp_path_factory.mktemp("bare-venv")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        [target] = (root / "lib").glob("python3*/site-packages")
        wanted = closure(*distributions)
        assert without not in wanted, f"{without} is required by one of {sorted(wanted)}"
        for name in set().union(*(top_level(d) for d in wanted)):
            if (site / name).exists() and not (target / name).exists():
                (target / name).symlink_to(site / name)
        # modelyard itself, from wherever this test imports it (an editable install's source tree)
        (target / "modelyard-under-test.pth").write_text(f"{Path(modelyard.__file__).resolve().parents[1]}\n")
        return str(root / "bin" / "python")

    return make


def failure(cluster: Callable[..., Any], controllers: Callable[..., Controller], python: str) -> str:
    services, admin = cluster()
    backend = LocalBackend(services.settings.data_dir / "deployments", python=python)
    controllers(services, backend=backend)
    services.deployments.create(admin, "iris", spec())
    s = wait_for(lambda: settled(services, admin, "iris", "Failed"), "Failed")
    message: str = s["message"]
    return message


def test_without_numpy_the_message_names_numpy(
    cluster: Callable[..., Any], controllers: Callable[..., Controller], environment: Callable[..., str]
) -> None:
    python = environment(*SERVING_BASE, without="numpy")
    message = failure(cluster, controllers, python)
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith("Replica main-"), message
    assert "exited with code 3 before it was ready, 3 times in a row: " in message
    assert message.endswith(
        "modelyard serve-model needs the Python package 'numpy', which is not installed in the Python "
        f"environment of {python}; install it with: {python} -m pip install numpy"
    ), message


def test_a_model_fitted_on_a_frame_without_pandas_names_pandas(
    cluster: Callable[..., Any], controllers: Callable[..., Controller], environment: Callable[..., str]
) -> None:
    # the README's pattern: a scikit-learn model with a DataFrame input example reads column names
    python = environment(*SERVING_BASE, "scikit-learn", "numpy", without="pandas")
    message = failure(cluster, controllers, python)
    assert "\n" not in message and "Traceback" not in message, message
    assert message.endswith(
        "cannot serve model 'iris': this model needs the Python package 'pandas', which is not installed "
        f"in the Python environment of {python}; install it with: {python} -m pip install pandas"
    ), message
