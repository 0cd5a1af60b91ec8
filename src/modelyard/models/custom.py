"""Packaging a custom model class (Seldon language-wrapper style) as the ``modelyard_custom`` flavor.

The class's code goes into ``code/``: the whole ``code_dir`` when one is given (for code spread over
several modules), else the class's own source file. The instance's attributes are pickled into
``state.pkl`` so the served model is the object that was logged (``__init__`` is not run again);
an instance without attributes is rebuilt with ``Class()``. Heavy or unpicklable things (clients,
sessions, locks) belong in ``load()``, which the server calls after rebuilding the object.
"""

from __future__ import annotations

import inspect
import pickle
import platform
import shutil
from pathlib import Path
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.models.writers import Written, pinned

FLAVOR = "modelyard_custom"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", "*.egg-info", ".mypy_cache")


def accepts(model: Any) -> bool:
    return not isinstance(model, type) and callable(getattr(model, "predict", None))


def write_custom(model: Any, *, model_dir: Path, code_dir: str | Path | None) -> Written:
    cls = type(model)
    source = _source_file(cls)
    code = model_dir / "code"
    if code_dir is not None:
        root = Path(code_dir).resolve()
        if not root.is_dir():
            raise InvalidParameter(f"code_dir {root} is not a directory")
        if not source.is_relative_to(root):
            raise InvalidParameter(
                f"{cls.__qualname__} is defined in {source}, which is outside code_dir {root}"
            )
        shutil.copytree(root, code, ignore=_IGNORED)
        module = _module_in(root, source, cls.__module__)
    else:
        code.mkdir()
        shutil.copy2(source, code / source.name)
        module = source.stem
    flavor: dict[str, Any] = {
        "code": "code",
        "class": f"{module}:{cls.__qualname__}",
        "python_version": platform.python_version(),
    }
    state = _state_of(model)
    if state is not None:
        (model_dir / "state.pkl").write_bytes(state)
        flavor["state"] = "state.pkl"
    return Written(flavors={FLAVOR: flavor}, requirements=pinned("numpy"))


def _source_file(cls: type) -> Path:
    if "." in cls.__qualname__:
        raise InvalidParameter(
            f"{cls.__qualname__} is a nested class; define the model class at module level"
        )
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        source = None
    if source is None or not Path(source).is_file():
        raise InvalidParameter(
            f"cannot find the source file of {cls.__qualname__} (defined interactively?); "
            "define it in a .py file and pass code_dir= with that file's directory"
        )
    return Path(source).resolve()


def _module_in(root: Path, source: Path, declared: str) -> str:
    """The name to import the class's module by with ``root`` on sys.path: the class's own module
    name when it maps to the file there (a package in code_dir), else the file's path from root."""
    if declared != "__main__" and root / (declared.replace(".", "/") + ".py") == source:
        return declared
    parts = list(source.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        raise InvalidParameter(f"{source} cannot be imported as a module from code_dir {root}")
    return ".".join(parts)


def _state_of(model: Any) -> bytes | None:
    attributes = getattr(model, "__dict__", None)
    if not attributes:
        return None
    try:
        return pickle.dumps(dict(attributes))
    except Exception as exc:  # pickling raises whatever the object's reducers raise
        bad = [name for name, value in attributes.items() if not _picklable(value)]
        raise InvalidParameter(
            f"cannot save the state of {type(model).__qualname__}: attribute(s) {bad} cannot be "
            f"pickled ({exc}); create them in load() instead of __init__"
        ) from exc


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # any failure means "not picklable"
        return False
    return True
