"""Request and response shapes of items' HTTP API (Pydantic v2)."""
