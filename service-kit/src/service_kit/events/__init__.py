"""Integration events between the services: the contract (CloudEvents 1.0 envelopes and typed
payloads) and the broker plumbing both sides share."""
