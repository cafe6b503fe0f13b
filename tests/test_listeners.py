from __future__ import annotations

import threading

from webhooks_lab.runtime.listeners import KEEP_ERRORS, Listeners


def test_each_listener_hears_the_news_until_it_unsubscribes():
    heard: list[int] = []
    listeners: Listeners[[int]] = Listeners("test")
    stop = listeners.subscribe(heard.append)
    listeners.notify(1)
    stop()
    stop()  # twice is harmless
    listeners.notify(2)
    assert heard == [1]
    assert not listeners


def test_a_listener_that_raises_is_dropped_and_its_error_kept():
    heard: list[int] = []
    listeners: Listeners[[int]] = Listeners("inbox")

    def broken(n: int) -> None:
        raise RuntimeError("the view is gone")

    listeners.subscribe(broken)
    listeners.subscribe(heard.append)
    listeners.notify(1)
    listeners.notify(2)
    assert heard == [1, 2]  # the healthy listener never missed a thing
    assert len(listeners) == 1
    (error,) = listeners.errors
    assert "inbox listener" in error and "RuntimeError: the view is gone" in error


def test_errors_kept_are_bounded():
    listeners: Listeners[[]] = Listeners("jobs")
    for _ in range(KEEP_ERRORS + 10):
        listeners.subscribe(lambda: 1 / 0)
        listeners.notify()
    assert len(listeners.errors) == KEEP_ERRORS


def test_a_listener_may_unsubscribe_itself_while_being_told():
    listeners: Listeners[[]] = Listeners("race")
    calls: list[str] = []

    def once() -> None:
        calls.append("once")
        stop()

    stop = listeners.subscribe(once)
    listeners.subscribe(lambda: calls.append("always"))
    listeners.notify()
    listeners.notify()
    assert calls == ["once", "always", "always"]


def test_subscribing_from_many_threads_loses_no_one():
    listeners: Listeners[[]] = Listeners("sender")
    threads = [
        threading.Thread(target=lambda: [listeners.subscribe(lambda: None) for _ in range(200)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(listeners) == 800
