"""The bulkhead admits `capacity` holders at once and refuses the next one without waiting."""

import os
import sys
import threading
import time

import pytest

from service_kit.bulkhead import Bulkhead, OverloadedError


def test_slot_refuses_at_once_when_every_slot_is_held() -> None:
    bulkhead = Bulkhead(2)

    with bulkhead.slot(), bulkhead.slot():
        started = time.monotonic()
        with pytest.raises(OverloadedError), bulkhead.slot():
            pass
        assert time.monotonic() - started < 0.05


def test_slot_admits_again_when_a_holder_leaves() -> None:
    bulkhead = Bulkhead(1)
    with bulkhead.slot():
        pass

    with bulkhead.slot():
        entered = True

    assert entered


def test_slot_is_released_when_the_block_raises() -> None:
    bulkhead = Bulkhead(1)
    with pytest.raises(RuntimeError), bulkhead.slot():
        raise RuntimeError

    with bulkhead.slot():
        entered = True

    assert entered


def test_slot_admits_exactly_capacity_threads_when_many_race() -> None:
    bulkhead = Bulkhead(3)
    inside, refused = [], []
    release = threading.Event()
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        try:
            with bulkhead.slot():
                inside.append(1)
                release.wait(5)
        except OverloadedError:
            refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(inside) + len(refused) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join()

    assert (len(inside), len(refused)) == (3, 7)


def test_zero_capacity_means_no_limit() -> None:
    bulkhead = Bulkhead(0)

    with bulkhead.slot(), bulkhead.slot(), bulkhead.slot():
        entered = True

    assert entered


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_call_returns_the_result_and_raises_the_error_of_the_work() -> None:
    bulkhead = Bulkhead(1, niceness=5)

    assert bulkhead.call(pow, 2, 10) == 1024
    with pytest.raises(ZeroDivisionError):
        bulkhead.call(divmod, 1, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread niceness is Linux's")
def test_call_runs_the_work_at_the_given_niceness_when_one_is_set() -> None:
    bulkhead = Bulkhead(2, niceness=7)
    callers_before = _own_niceness()

    niceness = bulkhead.call(_own_niceness)

    assert niceness == max(7, callers_before)
    assert _own_niceness() == callers_before  # only the bulkhead's threads are reniced


def test_call_runs_on_the_callers_thread_when_no_niceness_is_set() -> None:
    bulkhead = Bulkhead(1)

    assert bulkhead.call(threading.get_ident) == threading.get_ident()


def test_call_refuses_without_running_the_work_when_every_slot_is_held() -> None:
    bulkhead = Bulkhead(1, niceness=3)
    ran = []

    with bulkhead.slot(), pytest.raises(OverloadedError):
        bulkhead.call(ran.append, 1)

    assert ran == []


def test_calls_inside_a_reservation_use_its_slot_and_others_are_refused() -> None:
    bulkhead = Bulkhead(1)
    results: list[str] = []

    with bulkhead.reserved():
        results.append(bulkhead.call(lambda: "first"))
        results.append(bulkhead.call(lambda: "second"))
        with pytest.raises(OverloadedError), bulkhead.slot():
            pass  # the reservation holds the only slot

    assert results == ["first", "second"]
    with bulkhead.slot():  # released when the block ends
        pass


def test_a_reservation_is_refused_before_its_block_runs_when_every_slot_is_held() -> None:
    bulkhead = Bulkhead(1)
    ran = False

    with bulkhead.slot(), pytest.raises(OverloadedError), bulkhead.reserved():
        ran = True

    assert not ran


def test_a_reservation_is_the_calling_threads_own() -> None:
    bulkhead = Bulkhead(2)
    other: list[BaseException | str] = []

    def call_from_another_thread() -> None:
        try:
            with bulkhead.slot():  # the second slot: the reservation took only one
                other.append(bulkhead.call(lambda: "admitted"))
        except OverloadedError as exc:
            other.append(exc)

    with bulkhead.reserved():
        thread = threading.Thread(target=call_from_another_thread)
        thread.start()
        thread.join()

    assert len(other) == 1
    assert isinstance(other[0], OverloadedError)  # its call needed a third slot
