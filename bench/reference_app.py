"""The reference: the items API as a careful developer would write it in an afternoon.

Flask 3 + SQLAlchemy 2.0 ORM + psycopg 3; per request an EdDSA JWT verified with PyJWT (iss,
aud, exp), ORM entities read in a default session (BEGIN, SELECT, ROLLBACK), dicts built and
`jsonify`-ed; a create is `session.add` + `commit`. No validation library, no problem+json, no
request ids, no metrics, no ETags on lists, no cursors, no idempotency. It reads and writes the
same `items` table as items-service and signs nothing: the benchmark mints its tokens with its
own Ed25519 key (the public key in the PEM file `BENCH_REFERENCE_PUBLIC_KEY`).

Run by bench/vs_reference.py under plain gunicorn (gthread, 2 workers x 4 threads, no access
log). Environment: BENCH_DATABASE_URL, BENCH_REFERENCE_PUBLIC_KEY, BENCH_ISSUER, BENCH_AUDIENCE,
and BENCH_REFERENCE_SESSIONS, where the sessions come from (the `sessions` part compares the
last two on the same views):
- `plain` (default): `Session(engine)` per request, as above;
- `flask-sqlalchemy`: Flask-SQLAlchemy's `db.session` (`SQLAlchemy(model_class=Base)`, one
  scoped session per app context, removed at teardown), its default engine settings;
- `service-kit`: the services' `service_kit.db.Database` session factory with autocommit reads.
"""

import os
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, Response, abort, jsonify, request
from sqlalchemy import DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import Uuid

from service_kit.db import Database


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid(), default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.public_id),
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "owner_id": str(self.owner_id),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def create_app() -> Flask:
    app = Flask(__name__)
    session_scope = _sessions(app, os.environ["BENCH_DATABASE_URL"])
    with open(os.environ["BENCH_REFERENCE_PUBLIC_KEY"], "rb") as handle:
        public_key = load_pem_public_key(handle.read())
    issuer, audience = os.environ["BENCH_ISSUER"], os.environ["BENCH_AUDIENCE"]

    def owner() -> uuid.UUID:
        """The token's subject; 401 unless the token is a valid one of ours."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            abort(401)
        try:
            claims = jwt.decode(
                token,
                public_key,  # type: ignore[arg-type]
                algorithms=["EdDSA"],
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            return uuid.UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError):
            abort(401)

    @app.get("/api/v1/items")
    def list_items() -> Response:
        user = owner()
        limit = min(max(request.args.get("limit", 20, type=int), 1), 100)
        with session_scope() as session:
            items = session.scalars(
                select(Item)
                .where(Item.owner_id == user, Item.deleted_at.is_(None))
                .order_by(Item.created_at.desc(), Item.id.desc())
                .limit(limit)
            ).all()
            return jsonify({"data": [item.to_dict() for item in items]})

    @app.post("/api/v1/items")
    def create_item() -> tuple[Response, int]:
        user = owner()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400)
        name, description = body.get("name"), body.get("description")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            abort(400)
        if description is not None and not isinstance(description, str):
            abort(400)
        now = datetime.now(UTC)
        item = Item(
            public_id=uuid.uuid4(),
            name=name,
            description=description,
            status="draft",
            owner_id=user,
            version=1,
            created_at=now,
            updated_at=now,
        )
        answer = item.to_dict()  # before the commit expires the attributes
        with session_scope() as session:
            session.add(item)
            session.commit()
        return jsonify(answer), 201

    @app.get("/api/v1/items/<uuid:item_id>")
    def get_item(item_id: uuid.UUID) -> Response:
        user = owner()
        with session_scope() as session:
            item = session.scalars(
                select(Item).where(
                    Item.public_id == item_id, Item.owner_id == user, Item.deleted_at.is_(None)
                )
            ).first()
            if item is None:
                abort(404)
            return jsonify(item.to_dict())

    return app


def _sessions(app: Flask, url: str) -> Callable[[], AbstractContextManager[Session]]:
    """Where a view's session comes from (BENCH_REFERENCE_SESSIONS)."""
    kind = os.environ.get("BENCH_REFERENCE_SESSIONS", "plain")
    if kind == "flask-sqlalchemy":
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy(model_class=Base)
        app.config["SQLALCHEMY_DATABASE_URI"] = url
        db.init_app(app)
        return lambda: nullcontext(db.session)  # Flask-SQLAlchemy removes it at teardown
    if kind == "service-kit":
        return Database(url, autocommit_reads=True).session_factory
    if kind == "plain":
        engine = create_engine(url)
        return lambda: Session(engine)
    raise ValueError(f"BENCH_REFERENCE_SESSIONS: unknown {kind!r}")
