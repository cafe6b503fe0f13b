"""The lab loop: one background thread that owns an asyncio event loop.

Everything live in the lab (the HTTP server, the sender, the job runner) runs here, never on the
kernel's thread. That is what lets a notebook cell make a *blocking* ``httpx.post`` to the lab's own
receiver without deadlocking it, and what keeps the kernel responsive while work goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LabLoop:
    """An asyncio loop running for ever in a daemon thread, until :meth:`stop`."""

    def __init__(self, name: str = "webhooks-lab-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self._cancel_leftovers()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    def _cancel_leftovers(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    @property
    def running(self) -> bool:
        return self.thread.is_alive() and not self.loop.is_closed()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the lab loop from any thread; returns a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the lab loop and block this (other) thread until it finishes."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("LabLoop.run() would deadlock when called from the lab loop itself")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # it ended: with its own TimeoutError (and its words), or just now
                return future.result()
            future.cancel()
            raise TimeoutError(f"the lab did not finish within {timeout} s") from None

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the lab loop, from any thread."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        if self.in_loop_thread():
            raise RuntimeError("stop the lab from outside its own loop")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


def off_the_loop(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``function(*args)`` handed to the loop's thread pool at once, its future to await.

    When the interpreter is exiting (a lab stopped by ``atexit``, as a kernel that shuts down
    does), the pool takes no more work and no thread can start: then it runs here, on the loop,
    which has nothing else to do, and the future is already done. Without this a lab left
    running at exit never closed its outbox (its last records never committed), and a plain
    function handling a delivery that came in meanwhile raised instead of answering."""
    loop = asyncio.get_running_loop()
    try:
        return loop.run_in_executor(None, function, *args)
    except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(function(*args))
        return done


def awaitable(future: concurrent.futures.Future[T]) -> Awaitable[T]:
    """Let an ``async`` notebook cell ``await`` work running on the lab loop."""
    return asyncio.wrap_future(future)
