"""Progress of a long command: a bar on a terminal, one summary line anywhere else.

Services take a plain callback (`Advance`: called with how many more are done) and know
nothing of terminals; a CLI command wraps the call:

    with progress("seeding items", total=count) as advance:
        service.seed_items(owner_id=owner, count=count, on_progress=advance)

On a terminal that shows click's progress bar with the rate; otherwise (a pipe, a log, a Job's
output) it prints nothing while working and one line at the end:
`seeding items: 1,000,000 in 41.2 s (24,272/s)`.
"""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

Advance = Callable[[int], None]
"""Told how many more units of work are done."""


def no_progress(_done: int) -> None:
    """An `Advance` that reports nothing (the services' default)."""


@contextmanager
def progress(
    label: str,
    *,
    total: int | None = None,
    unit: str = "",
    file: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Advance]:
    """An `Advance` for the block, shown on a terminal (`file`, default stdout) as click's
    progress bar when the `total` is known, as a running count when not; then one summary line
    with the count, the time and the rate."""
    out = file or sys.stdout
    interactive = out.isatty()
    started = clock()
    done = 0

    def rate() -> str:
        return _rate(done, clock() - started, unit)

    with ExitStack() as stack:
        show: Advance = no_progress
        if interactive and total is not None:
            bar: ProgressBar[int] = stack.enter_context(
                click.progressbar(
                    length=total,
                    label=label,
                    file=out,
                    show_pos=True,
                    show_percent=True,
                    item_show_func=lambda _: rate(),
                )
            )
            show = bar.update
        elif interactive:

            def show(_count: int) -> None:
                click.echo(f"\r{label}: {done:,}{unit} ({rate()})", file=out, nl=False)

        def advance(count: int) -> None:
            nonlocal done
            done += count
            show(count)

        yield advance
        if interactive and total is None:
            click.echo("", file=out)
    elapsed = clock() - started
    click.echo(
        f"{label}: {done:,}{unit} in {elapsed:.1f} s ({_rate(done, elapsed, unit)})", file=out
    )


def _rate(done: int, elapsed: float, unit: str) -> str:
    per_second = done / elapsed if elapsed > 0 else 0.0
    return f"{per_second:,.0f}{unit}/s"
