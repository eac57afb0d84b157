"""The resumable-run skeleton on its own: a store keyed by another field, compaction in a given order,
the pool saving each result and closing each client once, also when a job fails."""

from __future__ import annotations

import json

import pytest

from finr1_verl.data.jsonl_store import JsonlStore
from finr1_verl.data.resumable import ResumableRun


class Client:
    def __init__(self):
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def test_a_store_keyed_by_id_compacts_to_the_given_keys_in_their_order(tmp_path):
    path = tmp_path / "items.jsonl"
    with JsonlStore(path, key_field="id") as store:
        for record in ({"id": "b", "n": 1}, {"id": "a", "n": 2}, {"id": "c", "n": 3}, {"id": "b", "n": 4}):
            store.append(record)
        assert store.get("b") == {"id": "b", "n": 4} and store.get("z") is None
        assert store.status("a") is None and not store.done("a")  # no status field: never "done"
        store.compact(["b", "a"])  # "c" is no longer selected
        assert store.get("a") == {"id": "a", "n": 2}
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"id": "b", "n": 4},
        {"id": "a", "n": 2},
    ]


def test_the_pool_saves_every_result_skips_done_jobs_and_closes_clients_once(tmp_path):
    path = tmp_path / "results.jsonl"
    client = Client()
    with ResumableRun(path, desc="t", unit="job", progress=False) as run:
        run.store.append({"key": "j#1", "status": "ok", "value": 10})

        async def handle(job: int) -> dict:
            return {"key": f"j#{job}", "status": "ok" if job % 2 else "error", "value": job * 10}

        jobs = list(run.pending(range(5), key=lambda job: f"j#{job}"))
        assert jobs == [0, 2, 3, 4]
        run.start(len(jobs))
        run.run(jobs, handle, concurrency=2, clients=[client, client])
        run.finish()
    assert client.closed == 1
    keys = [json.loads(line)["key"] for line in path.read_text().splitlines()]
    assert keys == ["j#0", "j#1", "j#2", "j#3", "j#4"]

    async def broken(job: int) -> dict:
        raise RuntimeError(f"bad input {job}")

    with ResumableRun(path, desc="t", unit="job", progress=False) as run, pytest.raises(RuntimeError):
        run.run(run.pending(range(5), key=lambda job: f"j#{job}"), broken, concurrency=2, clients=[client])
    assert client.closed == 2  # closed although the pool stopped on the error
