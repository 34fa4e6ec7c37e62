"""Access checking: what an identity may do, decided by the API server itself."""
