"""What to say when a Python package that serving needs is missing: one line naming the package and
the command that installs it into the environment this process runs in.

Only the standard library is imported here: the message is needed exactly when imports fail.
"""

from __future__ import annotations

import sys

# module -> the distribution pip installs it from, where the names differ
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "skl2onnx": "skl2onnx",
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
}


def distribution(module: str) -> str:
    """The pip name of the package that provides ``module`` (its top-level package)."""
    top = module.split(".", 1)[0]
    return _DISTRIBUTIONS.get(top, top)


def missing(module: str, *, what: str = "this model") -> str:
    """``what needs the Python package 'pandas', which is not installed ...; install it with: ...``"""
    package = distribution(module)
    return (
        f"{what} needs the Python package '{package}', which is not installed in the Python "
        f"environment of {sys.executable}; install it with: {sys.executable} -m pip install {package}"
    )
