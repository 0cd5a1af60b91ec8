"""Group quotas for deployments: CPU, memory and GPU in Kubernetes' units, and the deployment count.

CPU is kept in millicores and memory in MiB, parsed from what people write (``0.5``, ``"500m"``,
``"512Mi"``, ``"2Gi"``). ``check_quota`` refuses a change before anything starts, naming the quota, what
is in use, what is left and what the change needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from modelyard.domain.errors import DomainError, ErrorCode, InvalidParameter

MAX_QUOTA_COUNT = 2**31 - 1
"""The most GPUs or deployments a quota can name (the database holds 32-bit integers)."""
_CPU_RE = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>m?)$")
_MEM_RE = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|K|M|G|T|k)?$")
_MEM_FACTORS_MI = {
    None: 1 / (1024 * 1024),  # bytes
    "Ki": 1 / 1024,
    "k": 1000 / (1024 * 1024),
    "K": 1000 / (1024 * 1024),
    "Mi": 1.0,
    "M": 1_000_000 / (1024 * 1024),
    "Gi": 1024.0,
    "G": 1_000_000_000 / (1024 * 1024),
    "Ti": 1024.0 * 1024,
    "T": 1_000_000_000_000 / (1024 * 1024),
}


class QuotaExceeded(DomainError):
    """A create, update or scale that would take a group past one of its quotas."""

    code = ErrorCode.PERMISSION_DENIED


def parse_cpu(raw: Any, where: str) -> int:
    """CPU in millicores from ``0.5``, ``"500m"`` or ``"2"`` (as Kubernetes writes it)."""
    if isinstance(raw, bool):
        raise InvalidParameter(f"{where}: expected a number of cores like 0.5 or '500m', got {raw!r}.")
    if isinstance(raw, int | float):
        value = float(raw) * 1000
    elif isinstance(raw, str) and (m := _CPU_RE.match(raw.strip())):
        value = float(m["num"]) * (1 if m["unit"] else 1000)
    else:
        raise InvalidParameter(f"{where}: expected a number of cores like 0.5 or '500m', got {raw!r}.")
    if not 0 <= value <= 1_000_000:  # NaN too (Python's JSON reader accepts the literal)
        raise InvalidParameter(f"{where}: {raw!r} is out of range (0 to 1000 cores).")
    return round(value)


def parse_memory(raw: Any, where: str) -> int:
    """Memory in MiB from ``"512Mi"``, ``"1Gi"``, ``"1G"`` or a number of MiB."""
    if isinstance(raw, bool):
        raise InvalidParameter(f"{where}: expected a size like '512Mi' or '2Gi', got {raw!r}.")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and (m := _MEM_RE.match(raw.strip())):
        value = float(m["num"]) * _MEM_FACTORS_MI[m["unit"]]
    else:
        raise InvalidParameter(f"{where}: expected a size like '512Mi' or '2Gi', got {raw!r}.")
    if not 0 <= value <= 1024 * 1024 * 64:  # NaN too
        raise InvalidParameter(f"{where}: {raw!r} is out of range (0 to 64Ti).")
    return max(round(value), 1 if value > 0 else 0)


def format_cpu(millicores: int) -> str:
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib and mib % 1024 == 0 else f"{mib}Mi"


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_m: int = 500
    memory_mi: int = 512
    gpu: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"cpu": format_cpu(self.cpu_m), "memory": format_memory(self.memory_mi), "gpu": self.gpu}


@dataclass(frozen=True, slots=True)
class Usage:
    """What a group's deployments take: CPU, memory and GPU of running replicas, and their number."""

    cpu_m: int = 0
    memory_mi: int = 0
    gpu: int = 0
    deployments: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu_m + other.cpu_m,
            self.memory_mi + other.memory_mi,
            self.gpu + other.gpu,
            self.deployments + other.deployments,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu_m - other.cpu_m,
            self.memory_mi - other.memory_mi,
            self.gpu - other.gpu,
            self.deployments - other.deployments,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu": format_cpu(self.cpu_m),
            "memory": format_memory(self.memory_mi),
            "gpu": self.gpu,
            "deployments": self.deployments,
        }


@dataclass(frozen=True, slots=True)
class Quota:
    """A group's limits; ``None`` is unlimited. ``deployments_enabled`` False refuses every deployment."""

    cpu_m: int | None = None
    memory_mi: int | None = None
    gpu: int | None = None
    deployments: int | None = None
    deployments_enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu": None if self.cpu_m is None else format_cpu(self.cpu_m),
            "memory": None if self.memory_mi is None else format_memory(self.memory_mi),
            "gpu": self.gpu,
            "deployments": self.deployments,
            "deployments_enabled": self.deployments_enabled,
        }


def parse_quota(raw: Any, current: Quota | None = None) -> Quota:
    """A quota from JSON ``{cpu, memory, gpu, deployments, deployments_enabled}``; missing fields keep
    ``current``'s values, ``null`` removes a limit."""
    if not isinstance(raw, dict):
        raise InvalidParameter("quota: expected a JSON object with cpu, memory, gpu, deployments.")
    allowed = {"cpu", "memory", "gpu", "deployments", "deployments_enabled"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidParameter(f"quota: unknown field(s) {unknown}; allowed: {sorted(allowed)}.")
    quota = current or Quota()
    if "cpu" in raw:
        quota = replace(quota, cpu_m=None if raw["cpu"] is None else parse_cpu(raw["cpu"], "quota.cpu"))
    if "memory" in raw:
        memory = raw["memory"]
        quota = replace(quota, memory_mi=None if memory is None else parse_memory(memory, "quota.memory"))

    def count(key: str, default: int | None) -> int | None:
        if key not in raw:
            return default
        value = raw[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUOTA_COUNT
        ):
            raise InvalidParameter(
                f"quota.{key}: expected a whole number from 0 to {MAX_QUOTA_COUNT} or null, got {value!r}."
            )
        return value

    quota = replace(quota, gpu=count("gpu", quota.gpu), deployments=count("deployments", quota.deployments))
    if "deployments_enabled" in raw:
        if not isinstance(raw["deployments_enabled"], bool):
            raise InvalidParameter("quota.deployments_enabled: expected true or false.")
        quota = replace(quota, deployments_enabled=raw["deployments_enabled"])
    return quota


def check_quota(group: str, quota: Quota, in_use: Usage, before: Usage, after: Usage) -> None:
    """Refuse a change that takes the group from ``in_use`` (which includes ``before``, the changed
    deployment's current take) to ``in_use - before + after`` past a limit, naming it and what is left."""
    # With deployments disabled, a group may still stop or scale to zero what it has (and delete it).
    running = (after.cpu_m, after.memory_mi, after.gpu) != (0, 0, 0)
    if not quota.deployments_enabled and after.deployments and (running or not before.deployments):
        raise QuotaExceeded(
            f"Model deployment is disabled for group '{group}'; a platform admin can enable it."
        )
    projected = in_use - before + after
    checks: tuple[tuple[str, int | None, int, int, Any], ...] = (
        ("cpu", quota.cpu_m, projected.cpu_m, after.cpu_m - before.cpu_m, format_cpu),
        ("memory", quota.memory_mi, projected.memory_mi, after.memory_mi - before.memory_mi, format_memory),
        ("gpu", quota.gpu, projected.gpu, after.gpu - before.gpu, str),
        (
            "deployments",
            quota.deployments,
            projected.deployments,
            after.deployments - before.deployments,
            str,
        ),
    )
    for name, limit, total, increase, fmt in checks:
        if limit is not None and increase > 0 and total > limit:
            used = total - increase
            raise QuotaExceeded(
                f"Quota exceeded in group '{group}': {name} quota is {fmt(limit)}, {fmt(used)} in use, "
                f"{fmt(max(limit - used, 0))} left; this change needs {fmt(increase)} more."
            )
