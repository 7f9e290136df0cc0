"""The `--engine` options shared by the commands whose heavy work can run on Ray."""

from __future__ import annotations

from typing import Annotated

import typer

from citerec.engine import EngineConfig
from citerec.engine.shards import DEFAULT_SHARD_SIZE

EngineOption = Annotated[
    str, typer.Option("--engine", help="Where the heavy work runs: local (this process) or ray (a Ray cluster).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join: auto (started here with `ray start --head`), HOST:6379 or ray://HOST:10001. "
        "Default: $RAY_ADDRESS, else a local Ray.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Ray workers, each holding one model (default: one per CPU or GPU).",
        show_default=False,
    ),
]
GpusOption = Annotated[
    float, typer.Option("--gpus-per-worker", min=0.0, help="GPUs per Ray worker (0: CPU workers; 0.5: two per GPU).")
]

ShardSizeOption = Annotated[
    int,
    typer.Option(
        "--shard-size", min=1, help="ray: papers per vector shard (the unit of work kept when a build is interrupted)."
    ),
]


def engine_config(
    engine: str,
    address: str | None,
    workers: int | None,
    gpus_per_worker: float,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> EngineConfig:
    """The engine the options ask for (a CiterecError for a bad combination)."""
    return EngineConfig(
        name=engine, address=address, workers=workers, gpus_per_worker=gpus_per_worker, shard_size=shard_size
    )
