"""The transaction boundary services enter: commit on normal exit, roll back on any exception."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back and re-raise when it raises."""
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()
