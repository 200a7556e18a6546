"""The shop API: one FastAPI replica of the system under test (see README.md)."""
