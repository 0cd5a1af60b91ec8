"""The reconcile loop: level-triggered, one worker per deployment, status reported every pass.

A background thread wakes every ``tick_s`` (and at once when a deployment changes or a replica's
process exits, which the backend tells), checks the lease
(only the leader acts), reads every deployment's desired state and hands each deployment to a worker
pool — never more than one reconcile in flight per deployment, so a slow one (a large model to fetch,
replicas that drain for seconds) holds up nobody else. A reconcile looks at what the backend runs,
takes idempotent steps (``plan``) and reports phase and replicas; nothing it remembers between passes
is needed for correctness, so a new controller simply carries on from what it observes.

A replica that serves is first reported ``draining`` and only drained ``drain_grace_s`` later, once the
gateway (which caches routes briefly) has stopped sending it requests.

What the controller decides (starting replicas, phase changes) goes to the server's log at INFO
(``modelyard.controller``), a deployment that fails at WARNING; what happens to each replica, the
backend logs (and writes into the replica's own log).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from modelyard.controller.backends import Backend, ReplicaSpec
from modelyard.controller.backends.local import Liveness, LocalBackend
from modelyard.controller.lease import Lease
from modelyard.controller.model_cache import KEEP_S, ModelCache
from modelyard.controller.plan import plan
from modelyard.domain.deployments import (
    DeploymentSpec,
    Phase,
    PredictorSpec,
    Replica,
    ReplicaState,
    derive_phase,
    parse_spec,
    replica_template,
)
from modelyard.domain.errors import DomainError
from modelyard.services import Services

log = logging.getLogger("modelyard.controller")

LEASE_NAME = "deployments"


@dataclass(frozen=True, slots=True)
class Timing:
    tick_s: float = 0.5
    starting_tick_s: float = 0.05  # while a replica starts: notice it is ready without delay
    lease_s: float = 10.0
    renew_s: float = 2.0
    drain_grace_s: float = 1.0  # longer than the gateway's route cache
    workers: int = 8
    liveness: Liveness = field(default_factory=Liveness)  # ready replicas of the local backend
    cache_prune_s: float = 60.0  # how often the model cache is pruned
    cache_keep_s: float = KEEP_S  # how long an unused model copy is kept


class Controller:
    def __init__(
        self,
        services: Services,
        *,
        backend: Backend | None = None,
        holder: str | None = None,
        timing: Timing = Timing(),
    ) -> None:
        self.services = services
        self.timing = timing
        root = services.settings.data_dir / "deployments"
        self.backend: Backend = backend or LocalBackend(
            root, liveness=timing.liveness, spawner=services.settings.replica_spawner
        )
        self.cache = ModelCache(root / "cache", keep_s=timing.cache_keep_s)
        self._pruned_at = time.monotonic()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = Lease(
            services.db,
            name=LEASE_NAME,
            holder=self.holder,
            duration_s=timing.lease_s,
            renew_s=timing.renew_s,
        )
        self.leading = False
        self.passes = 0  # reconciles done, all deployments together (tests wait on it)
        self._wake = threading.Event()
        self._starting = False  # some replica was starting at the last pass
        self._stopping = threading.Event()
        self._busy: set[int] = set()
        self._again: set[int] = set()  # busy when a pass was due: pass again once the worker is done
        self._busy_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(timing.workers, thread_name_prefix="modelyard-reconcile")
        self._thread = threading.Thread(target=self._run, name="modelyard-controller", daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.services.deployments.subscribe(self._wake.set)
        self.backend.notify(self._wake.set)  # a replica that exits is restarted without waiting for a tick
        self._thread.start()

    def close(self, *, stop_replicas: bool | None = None) -> None:
        """Stop reconciling; stop the replicas too when asked (default: the server's setting), else
        leave them serving for the next controller to adopt."""
        stop = self.services.settings.stop_replicas_on_exit if stop_replicas is None else stop_replicas
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True)
        self.backend.close(stop_replicas=stop)
        if self.leading:
            self.lease.release()
            self.leading = False

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("controller pass failed; retrying")
            self._sleep()

    def _sleep(self) -> None:
        """Until something wakes the controller, or its tick; only ``starting_tick_s`` while a replica
        starts, so that it is seen ready at once. Workers find starting replicas after this thread
        began to wait: it waits in slices of ``starting_tick_s`` and looks at ``_starting`` after each."""
        deadline = time.monotonic() + self.timing.tick_s
        while (left := deadline - time.monotonic()) > 0:
            if self._wake.wait(min(left, self.timing.starting_tick_s)) or self._starting:
                break
        self._wake.clear()

    def _tick(self) -> None:
        leading = self.lease.hold()
        if leading != self.leading:
            log.info("controller %s %s the lead", self.holder, "takes" if leading else "loses")
            if leading:
                self.backend.adopt()
            self.leading = leading
        if not leading:
            return
        self._starting = False
        desired = {d["id"]: d for d in self.services.deployments.desired()}
        self._maybe_prune(list(desired.values()))
        for deployment_id in sorted(set(desired) | self.backend.deployment_ids()):
            with self._busy_lock:
                if deployment_id in self._busy:
                    self._again.add(deployment_id)  # what woke us may be news to the pass in flight
                    continue
                self._busy.add(deployment_id)
            self._pool.submit(self._reconcile_guarded, deployment_id, desired.get(deployment_id))

    def _maybe_prune(self, desired: list[dict[str, Any]]) -> None:
        """Prune the model cache now and then, while no reconcile runs (none is making or picking up
        a copy then: workers are started only by this thread, after this)."""
        if time.monotonic() - self._pruned_at < self.timing.cache_prune_s:
            return
        with self._busy_lock:
            if self._busy:
                return
        self._pruned_at = time.monotonic()
        locations = [
            model["location"]
            for d in desired
            for model in (d.get("models") or {}).values()
            if model and model.get("location")
        ]
        try:
            self.cache.prune(locations=locations, model_dirs=self.backend.model_dirs())
        except OSError:
            log.exception("pruning the model cache %s failed; trying again later", self.cache.root)

    # ---- one deployment ----------------------------------------------------------------------------
    def _reconcile_guarded(self, deployment_id: int, desired: dict[str, Any] | None) -> None:
        try:
            if self._stopping.is_set() or not self.lease.held:
                return
            if self.reconcile(deployment_id, desired):
                self._wake.set()  # look again soon: a step was taken
            with self._busy_lock:
                self.passes += 1
        except Exception as exc:
            log.exception("reconciling deployment %s failed", deployment_id)
            if desired is not None:
                self._report_error(desired, exc)
        finally:
            with self._busy_lock:
                self._busy.discard(deployment_id)
                again = deployment_id in self._again
                self._again.discard(deployment_id)
            if again:
                self._wake.set()

    def reconcile(self, deployment_id: int, desired: dict[str, Any] | None) -> bool:
        """One pass over one deployment (``desired`` None: it was deleted); whether a step was taken."""
        observed = self.backend.replicas(deployment_id)
        if desired is None:
            return self._remove(deployment_id, observed)
        try:
            spec = parse_spec(desired["spec"])
        except DomainError as exc:
            self._report(desired, None, observed, failure=f"The stored spec is invalid: {exc.message}")
            return False
        starts: list[ReplicaSpec] = []
        drains: list[tuple[Replica, str]] = []
        failures: list[str] = []
        live = [r for r in observed if r.state is not ReplicaState.DRAINING]
        if spec.stop:
            drains = [(r, "the deployment is stopped") for r in live]
        else:
            for p in spec.predictors:
                mine = [r for r in live if r.predictor == p.name]
                try:
                    template = self._replica_spec(deployment_id, desired, p)
                except Exception as exc:  # the model's files cannot be fetched: keep what runs
                    failures.append(f"Predictor '{p.name}': cannot fetch its model files: {exc}")
                    continue
                for r in mine:
                    if r.template == template.template and self.backend.restart_due(deployment_id, r.name):
                        self.backend.restart(deployment_id, r.name)
                step = plan(p.replicas, template.template, mine)
                if step.start:
                    log.info(
                        "deployment '%s' (generation %s): starting %d replica(s) of predictor '%s' "
                        "(%d wanted, %d kept)",
                        desired["name"],
                        desired["generation"],
                        step.start,
                        p.name,
                        p.replicas,
                        sum(1 for r in mine if r.template == template.template),
                    )
                starts += [template] * step.start
                drains += [(r, _drain_reason(r, template.template, desired, p)) for r in step.drain]
            names = {p.name for p in spec.predictors}
            # a predictor that was removed
            drains += [(r, "its predictor was removed") for r in live if r.predictor not in names]
        for replica_spec in starts:
            self.backend.start(replica_spec)
        self._drain(desired, spec, deployment_id, drains)
        now = self.backend.replicas(deployment_id)
        if any(r.state is ReplicaState.STARTING for r in now):
            self._starting = True
        self._report(desired, spec, now, failure="; ".join(failures))
        return bool(starts or drains)

    def _replica_spec(self, deployment_id: int, desired: dict[str, Any], p: PredictorSpec) -> ReplicaSpec:
        model = desired["models"].get(p.name)
        if not model or not model.get("location"):
            raise LookupError(f"no model location was resolved for predictor '{p.name}'")
        location = model["location"]
        self.cache.root.mkdir(parents=True, exist_ok=True)
        model_dir = self.services.artifact_service.materialize(location, self.cache.root)
        return ReplicaSpec(
            deployment_id=deployment_id,
            deployment=desired["name"],
            predictor=p.name,
            template=replica_template(desired["name"], p, location),
            model_dir=model_dir,
            model_version=model.get("version"),
            env=dict(p.env),
            max_batch_size=p.batching.max_batch_size,
            max_batch_wait_ms=p.batching.max_batch_wait_ms,
            cpu_m=p.resources.cpu_m,
            memory_mi=p.resources.memory_mi,
            gpu=p.resources.gpu,
        )

    def _drain(
        self,
        desired: dict[str, Any],
        spec: DeploymentSpec,
        deployment_id: int,
        drains: list[tuple[Replica, str]],
    ) -> None:
        """Drain replicas; those that serve are first reported ``draining`` so the gateway lets go."""
        if not drains:
            return
        serving = {r.name for r, _ in drains if r.state is ReplicaState.READY}
        if serving:
            shown = [
                replace(r, state=ReplicaState.DRAINING) if r.name in serving else r
                for r in self.backend.replicas(deployment_id)
            ]
            self._report(desired, spec, shown)
            if self._stopping.wait(self.timing.drain_grace_s):
                return  # shutting down: the next controller decides again
        for r, reason in drains:
            self.backend.drain(deployment_id, r.name, reason=reason)

    def _remove(self, deployment_id: int, observed: list[Replica]) -> bool:
        """A deleted deployment: drain everything (its endpoint is gone already), then forget it."""
        live = [r for r in observed if r.state is not ReplicaState.DRAINING]
        if live:
            log.info("deployment %s was deleted: draining its %d replica(s)", deployment_id, len(live))
        for r in live:
            self.backend.drain(deployment_id, r.name, reason="the deployment was deleted")
        if not self.backend.replicas(deployment_id):
            self.backend.forget(deployment_id)
            return False
        return bool(observed)

    # ---- status ------------------------------------------------------------------------------------
    def _report(
        self,
        desired: dict[str, Any],
        spec: DeploymentSpec | None,
        replicas: list[Replica],
        *,
        failure: str = "",
    ) -> None:
        if spec is None:
            phase, message = Phase.FAILED, failure
        else:
            phase, message = derive_phase(spec, replicas, failure=failure)
        detail = [r.to_json() for r in replicas]
        generation = desired["generation"]
        if (
            desired.get("phase") == phase.value
            and desired.get("message") == message
            and desired.get("replica_status") == detail
            and desired.get("observed_generation", 0) >= generation
        ):
            return  # nothing changed since the snapshot this pass started from
        self.services.deployments.report_status(desired["id"], generation, phase, message, replicas)
        if desired.get("phase") != phase.value or (
            phase is Phase.FAILED and desired.get("message") != message
        ):
            log.log(
                logging.WARNING if phase is Phase.FAILED else logging.INFO,
                "deployment '%s' (generation %s): %s -> %s: %s",
                desired["name"],
                generation,
                desired.get("phase"),
                phase.value,
                message,
            )
        # later reports of this pass compare with what was just written
        desired.update(
            phase=phase.value, message=message, replica_status=detail, observed_generation=generation
        )

    def _report_error(self, desired: dict[str, Any], exc: Exception) -> None:
        log.warning(
            "deployment '%s' fails: the controller could not apply its spec: %s", desired["name"], exc
        )
        try:
            replicas = self.backend.replicas(desired["id"])
            message = f"The controller could not apply the spec: {type(exc).__name__}: {exc}"
            self.services.deployments.report_status(
                desired["id"], desired["generation"], Phase.FAILED, message, replicas
            )
        except Exception:
            log.exception("reporting the failure of deployment %s failed too", desired["id"])


def _drain_reason(r: Replica, template: str, desired: dict[str, Any], p: PredictorSpec) -> str:
    if r.template != template:
        return f"replaced: the spec changed (generation {desired['generation']})"
    return f"scaled down to {p.replicas} replica(s)"
