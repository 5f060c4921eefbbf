"""The baseline: a minimal hand-written Flask endpoint doing the same work as items' list.

Same JWT check (ES256, pinned algorithm, iss/aud/exp/nbf/iat/typ), same keyset query on the
same index, same JSON page shape, no framework layers. items-service is measured against it.
"""

import base64
import json
import os
import uuid
from datetime import datetime
from typing import Any

import jwt
from flask import Flask, Response, request
from sqlalchemy import create_engine, text

QUERY = text(
    "SELECT id, public_id, name, description, status, owner_id, created_at, updated_at "
    "FROM items WHERE owner_id = :owner AND deleted_at IS NULL "
    "ORDER BY created_at DESC, id DESC LIMIT :limit"
)


def create_app() -> Flask:
    app = Flask(__name__)
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=5, max_overflow=5)
    with open(os.environ["BENCH_JWKS_FILE"]) as handle:
        jwk = json.load(handle)["keys"][0]
    public_key = jwt.PyJWK(jwk).key
    issuer, audience = os.environ["BENCH_ISSUER"], os.environ["BENCH_AUDIENCE"]

    @app.get("/api/v1/items")
    def list_items() -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if (
                scheme.lower() != "bearer"
                or jwt.get_unverified_header(token).get("typ") != "at+jwt"
            ):
                raise jwt.InvalidTokenError()
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["ES256"],
                audience=audience,
                issuer=issuer,
                options={"require": ["exp", "nbf", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return Response('{"code":"invalid_token"}', 401, mimetype="application/problem+json")
        limit = min(max(int(request.args.get("limit", 20)), 1), 100)
        with engine.connect() as connection:
            rows = connection.execute(
                QUERY, {"owner": uuid.UUID(claims["sub"]), "limit": limit + 1}
            ).all()
        page = rows[:limit]
        data: list[dict[str, Any]] = [
            {
                "id": str(row.public_id),
                "name": row.name,
                "description": row.description,
                "status": row.status,
                "owner_id": str(row.owner_id),
                "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at),
            }
            for row in page
        ]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            raw = f"{last.created_at.isoformat()}|{last.id}".encode()
            next_cursor = base64.urlsafe_b64encode(raw).decode()
        return Response(
            json.dumps({"data": data, "next_cursor": next_cursor}), mimetype="application/json"
        )

    return app


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
