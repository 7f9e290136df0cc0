"""Hypothesis profiles for the fuzz tests, and a count of inputs tried per target.

`ci` (the default) keeps every fuzz test to seconds; `long` (CITEREC_FUZZ_PROFILE=long)
runs many more examples with no deadline for a deeper search. With
CITEREC_FUZZ_COUNTS=FILE the number of inputs each target saw is written there
as JSON at exit (the table in the hardening note comes from it).
"""

from __future__ import annotations

import atexit
import collections
import json
import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("CITEREC_FUZZ_PROFILE", "ci")
_SCALE = {"ci": 1, "long": 40}

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,  # time limits are asserted by the tests themselves, on a loaded machine
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=60 * _SCALE["long"],
    deadline=None,
    derandomize=False,  # a deeper run should look somewhere new each time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.load_profile(PROFILE)

COUNTS: collections.Counter[str] = collections.Counter()


def examples(n: int) -> int:
    """`n` examples under the ci profile, proportionally more under long."""
    return n * _SCALE.get(PROFILE, 1)


def _dump() -> None:
    path = os.environ.get("CITEREC_FUZZ_COUNTS")
    if not path or not COUNTS:
        return
    old = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            old = json.load(handle)
    for key, value in COUNTS.items():
        old[key] = old.get(key, 0) + value
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(old, handle, indent=2, sort_keys=True)


atexit.register(_dump)
