"""The inference worker: one job at a time, a bounded queue, time limits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hailo_face_server.errors import RequestTimeout, ServerBusy
from hailo_face_server.worker import InferenceWorker
from tests.support import wait_until


async def test_jobs_never_overlap() -> None:
    worker = InferenceWorker(max_queue_size=20)
    running = 0
    most = 0
    lock = threading.Lock()

    def job() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1

    await asyncio.gather(*(worker.run(job, 5) for _ in range(20)))
    assert most == 1
    assert worker.completed == 20 and worker.depth == 0
    worker.shutdown()


async def test_the_queue_refuses_work_beyond_its_size() -> None:
    worker = InferenceWorker(max_queue_size=3)
    release = threading.Event()
    jobs = [asyncio.ensure_future(worker.run(release.wait, 5)) for _ in range(3)]
    await wait_until(lambda: worker.depth == 3, "three admitted jobs")
    with pytest.raises(ServerBusy) as refused:
        await worker.run(lambda: None, 5)
    assert refused.value.retry_after >= 1
    assert worker.rejected == 1
    release.set()
    assert await asyncio.gather(*jobs) == [True, True, True]
    assert (await worker.run(lambda: 42, 5)) == 42
    worker.shutdown()


async def test_a_job_that_waits_too_long_is_given_up_and_never_runs() -> None:
    worker = InferenceWorker(max_queue_size=5)
    release = threading.Event()
    ran: list[str] = []
    blocker = asyncio.ensure_future(worker.run(release.wait, 5))
    await wait_until(lambda: worker.depth == 1, "the blocking job")
    with pytest.raises(RequestTimeout):
        await worker.run(lambda: ran.append("late"), 0.05)
    release.set()
    await blocker
    await worker.run(lambda: None, 5)
    assert ran == []
    assert worker.depth == 0 and worker.timed_out == 1
    worker.shutdown()


async def test_errors_reach_the_caller_and_free_the_slot() -> None:
    worker = InferenceWorker(max_queue_size=1)

    def fail() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await worker.run(fail, 5)
    assert worker.depth == 0
    assert await worker.run(lambda: "ok", 5) == "ok"
    worker.shutdown()
