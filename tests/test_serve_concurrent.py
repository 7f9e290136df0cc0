"""`citerec serve` answering while other processes import into its library.

The server runs as users run it (`citerec serve`, a child process on
loopback); four `citerec library import` processes write into the same
library meanwhile, and a client keeps asking. Nothing may be lost, no request
may fail, and the server must find the new papers (it checks the library's
version on every request and updates its index in the background).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from citerec.library import Library  # noqa: E402
from tests.test_library import _bib  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from citerec.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(example_library_dir: Path):
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [*CLI, "serve", "-L", str(example_library_dir), "--rerank", "off", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"citerec serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("citerec serve did not start in 180 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_imports_while_serving_lose_nothing_and_the_server_finds_them(server, example_library_dir, tmp_path):
    before = len(Library(example_library_dir))
    counts = {"alpha": 30, "beta": 25, "gamma": 20, "delta": 15}
    bibs = [_bib(tmp_path / f"{name}.bib", name, n) for name, n in counts.items()]
    statuses: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        with httpx.Client(base_url=server, timeout=60) as client:
            while not stop.is_set():
                statuses.append(
                    client.get("/v1/library/search", params={"q": "concurrent imports", "k": 5}).status_code
                )
                body = {"text": "Dense retrieval with dual encoders [cite] improves recall.", "top_n": 3}
                statuses.append(client.post("/v1/suggest", json=body).status_code)

    client = threading.Thread(target=ask)
    client.start()
    try:
        imports = [
            subprocess.Popen([*CLI, "library", "import", str(bib), "-L", str(example_library_dir)], cwd=REPO)
            for bib in bibs
        ]
        assert [proc.wait(timeout=300) for proc in imports] == [0, 0, 0, 0]
        expected = before + sum(counts.values())
        assert len(Library(example_library_dir)) == expected  # nothing lost
        deadline = time.monotonic() + 300
        health = {}
        while time.monotonic() < deadline:
            health = httpx.get(f"{server}/healthz", timeout=10).json()
            if health["index_papers"] == expected and not health["index_updating"]:
                break
            time.sleep(1)
        assert health["library_papers"] == expected and health["index_papers"] == expected, health
    finally:
        stop.set()
        client.join(timeout=120)
    hits = httpx.get(f"{server}/v1/library/search", params={"q": "Gamma study", "k": 3, "method": "bm25"})
    assert hits.status_code == 200 and all(hit["key"].startswith("gamma") for hit in hits.json()["results"])
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
