"""Request and response shapes of identity's HTTP API (Pydantic v2)."""
