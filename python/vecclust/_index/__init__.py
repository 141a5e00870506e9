"""The multi-tenant vector index."""
