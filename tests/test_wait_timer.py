"""WaitTimer: asyncio.timeout_at's behaviour for a stream's waits, on one re-armed timer."""

from __future__ import annotations

import asyncio

import pytest

from lambdagate.wait_timer import WaitTimer


def run(coroutine: object) -> object:
    return asyncio.run(asyncio.wait_for(coroutine, 10))  # type: ignore[arg-type]


def test_a_wait_past_its_deadline_raises_timeout_and_leaves_the_task_uncancelled() -> None:
    async def main() -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        timer = WaitTimer()
        try:
            with timer.until(loop.time() + 0.05):
                await asyncio.Event().wait()  # never set
        except TimeoutError:
            outcome = "timeout"
        else:
            outcome = "no timeout"
        finally:
            timer.close()
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)  # still runs: nothing left to cancel it
        return outcome, task.cancelling()

    assert run(main()) == ("timeout", 0)


def test_waits_that_end_in_time_never_time_out_and_the_timer_fires_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    fired: list[float] = []
    on_timer = WaitTimer._on_timer

    def counted(self: WaitTimer) -> None:
        fired.append(1.0)
        on_timer(self)

    monkeypatch.setattr(WaitTimer, "_on_timer", counted)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def produce() -> None:
            for i in range(300):
                await queue.put(i)
                await asyncio.sleep(0)

        producer = asyncio.ensure_future(produce())
        timer = WaitTimer()
        total = 0
        with timer:
            pass  # no deadline: nothing armed
        for _ in range(300):
            with timer.until(loop.time() + 30):
                total += await queue.get()
        timer.close()
        await producer
        return total

    assert run(main()) == sum(range(300))
    assert fired == []  # 300 waits, and not one timer call: the deadline was never reached


def test_the_consumer_between_waits_is_never_cancelled() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        timer = WaitTimer()
        steps = []
        for i in range(3):
            with timer.until(loop.time() + 0.02):
                await asyncio.sleep(0)
            await asyncio.sleep(0.05)  # the consumer's work, longer than the limit, outside any wait
            steps.append(f"step {i}")
        timer.close()
        return steps

    assert run(main()) == ["step 0", "step 1", "step 2"]


def test_a_later_wait_with_an_earlier_deadline_still_times_out() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        timer = WaitTimer()
        with timer.until(loop.time() + 3600):
            await asyncio.sleep(0)
        try:
            with timer.until(loop.time() + 0.05):
                await asyncio.Event().wait()
        except TimeoutError:
            return "timeout"
        finally:
            timer.close()
        return "no timeout"

    assert run(main()) == "timeout"


def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        async def waiter() -> None:
            timer = WaitTimer()
            with timer.until(loop.time() + 3600):
                started.set()
                await asyncio.Event().wait()

        task = asyncio.ensure_future(waiter())
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        except TimeoutError:
            return "timeout"
        return "finished"

    assert run(main()) == "cancelled"
