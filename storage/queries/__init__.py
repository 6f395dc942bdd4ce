"""Read models: what commands, the digest, exports and metrics show. They only read."""
