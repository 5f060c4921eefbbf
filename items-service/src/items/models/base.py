"""items' declarative base: its own metadata, so its tables and migrations stay its own."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from service_kit.db import NAMING_CONVENTION, IntegerPkMixin


class Base(IntegerPkMixin, DeclarativeBase):
    """Every items model: integer primary key `id`, named constraints."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
