"""Joining (or starting) the Ray cluster the ray engine runs on.

`address` None starts a private local Ray (or joins the cluster named by
$RAY_ADDRESS, as Ray itself does); "auto" joins the cluster started on this
machine with `ray start --head`; "ray://host:10001" goes through Ray Client.
citerec's own code is shipped to the workers with the job (`py_modules`), so a
cluster needs only citerec's dependencies installed, and always runs the very
code of the driver.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from citerec.engine.config import EngineConfig
from citerec.errors import CiterecError, ModelError

log = logging.getLogger(__name__)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise CiterecError("--engine ray needs Ray: pip install 'citerec[ray]'") from exc
    return ray


def connect(config: EngineConfig) -> Any:
    """The `ray` module, connected to the cluster of `config` (once per process)."""
    ray = import_ray()
    if ray.is_initialized():
        quiet_ray_data()
        return ray
    try:
        ray.init(
            address=config.address,
            runtime_env=runtime_env(),
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = config.address or os.environ.get("RAY_ADDRESS") or "a local Ray"
        raise CiterecError(f"cannot start or join Ray at {where}: {exc}") from exc
    quiet_ray_data()
    log.info("Ray cluster resources: %s", ray.cluster_resources())
    return ray


def quiet_ray_data() -> None:
    """citerec draws its own progress bar: Ray Data's bars and per-run log lines would interleave with it."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def runtime_env() -> dict[str, Any]:
    """What a job's workers get: citerec's own code (shipped, not installed) and the offline switches."""
    package = Path(__file__).resolve().parents[1]  # the citerec package folder (not imported: no circle)
    env: dict[str, str] = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
        if name in os.environ:
            env[name] = os.environ[name]
    return {"py_modules": [str(package)], "env_vars": env, "excludes": ["__pycache__"]}


def worker_count(ray: Any, config: EngineConfig) -> int:
    """`config.workers`, else as many as the cluster's CPUs (or GPUs) allow; an error when it cannot hold them.

    Ray would otherwise wait forever for actors it has no room for.
    """
    resources = ray.cluster_resources()
    kind, each = ("GPU", config.gpus_per_worker) if config.gpus_per_worker > 0 else ("CPU", config.cpus_per_worker)
    available = float(resources.get(kind, 0))
    workers = config.workers if config.workers is not None else int(available // each)
    if workers < 1 or workers * each > available:
        option = "--gpus-per-worker" if kind == "GPU" else "--workers"
        raise ModelError(
            f"{option}: {max(workers, 1)} workers need {max(workers, 1) * each:g} {kind}s; "
            f"the Ray cluster has {available:g}"
        )
    return workers


def device_for(config: EngineConfig) -> str:
    """What a worker's model runs on: its GPU when it was given one, else the CPU."""
    return "cuda" if config.gpus_per_worker > 0 else "cpu"


def unwrap(exc: BaseException) -> BaseException:
    """The citerec error inside a Ray task failure (Ray wraps it with a remote traceback), else `exc`."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, CiterecError) and "RayTaskError" not in type(seen).__name__:
            return seen
        seen = getattr(seen, "cause", None) or seen.__cause__
    return exc
