"""Password hashing, token material and signing-key cryptography (no database, no Flask)."""
