"""What a run records about where it ran: the git code version and the Python environment.

Git is asked through the ``git`` command in the caller's working directory; outside a repository, or
without git installed, the code version is simply absent. Credentials embedded in an https remote URL
(``https://user:token@host/...``) are stripped before anything leaves the machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from modelyard.schemas import CodeVersion, Environment

GIT_TIMEOUT_S = 5.0


def _git(cwd: Path, *args: str) -> str | None:
    """stdout of ``git <args>`` in ``cwd``, stripped; None if git is missing or the command fails."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _remote_url(cwd: Path) -> str | None:
    remotes = (_git(cwd, "remote") or "").split()
    if not remotes:
        return None
    name = "origin" if "origin" in remotes else remotes[0]
    url = _git(cwd, "remote", "get-url", name)
    return _without_credentials(url) if url else None


def capture_code_version(cwd: Path | None = None) -> CodeVersion | None:
    """The git state of ``cwd`` (default: the current directory), or None outside a git work tree.

    ``repo`` is the remote URL (``origin`` preferred), else the work tree's top-level path; ``commit``
    is None before the first commit, ``branch`` None on a detached HEAD; ``dirty`` counts changes
    to tracked files only.
    """
    where = Path.cwd() if cwd is None else cwd
    top = _git(where, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    status = _git(where, "status", "--porcelain", "--untracked-files=no")
    return CodeVersion(
        repo=_remote_url(where) or top,
        commit=_git(where, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") or None,
        branch=_git(where, "symbolic-ref", "--short", "--quiet", "HEAD") or None,
        dirty=None if status is None else bool(status),
    )


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def capture_environment() -> Environment:
    """The running interpreter's version, the platform, and every installed distribution's version."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages.setdefault(normalize_name(name), dist.version)
    return Environment(
        python_version=platform.python_version(),
        platform=platform.platform(),
        packages=dict(sorted(packages.items())),
    )
