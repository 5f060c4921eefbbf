"""items' use cases. Each write runs in one `transaction()`; errors are domain errors."""
