"""Which engine runs batch work, as one frozen value: the package and its Ray modules all read it from here,
so the Ray modules never import the package that loads them."""

from __future__ import annotations

from dataclasses import dataclass

from citerec.engine.shards import DEFAULT_SHARD_SIZE
from citerec.errors import CiterecError

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineConfig:
    """Which engine, and for Ray: the cluster, how many workers and what each holds."""

    name: str = "local"
    address: str | None = None  # Ray: None starts a local Ray (or joins $RAY_ADDRESS); "auto" joins a running one
    workers: int | None = None  # Ray: actors in the pool; None = one per CPU (or per GPU with gpus_per_worker)
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    shard_size: int = DEFAULT_SHARD_SIZE

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise CiterecError(f"--engine must be one of {', '.join(ENGINES)}, not {self.name!r}")
        if self.workers is not None and self.workers < 1:
            raise CiterecError("--workers must be at least 1")
        if self.gpus_per_worker < 0 or self.cpus_per_worker <= 0:
            raise CiterecError("--gpus-per-worker must be >= 0 and --cpus-per-worker > 0")
        if self.shard_size < 1:
            raise CiterecError("the shard size must be at least 1")
        if self.name == "local" and (self.address or self.workers or self.gpus_per_worker):
            raise CiterecError("--ray-address, --workers and --gpus-per-worker need --engine ray")

    @property
    def local(self) -> bool:
        return self.name == "local"


LOCAL = EngineConfig()
