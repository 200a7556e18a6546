"""The swarm runtime: compose.yaml deployed as a Docker Swarm stack (``runtime.py``),
rendered from ``docker compose config`` by ``stack.py``."""
