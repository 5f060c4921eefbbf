"""items' repositories: queries over a session they are handed; they flush, never commit."""
