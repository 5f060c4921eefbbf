"""End-to-end test support: the stack under test, its API client, a headless browser."""
