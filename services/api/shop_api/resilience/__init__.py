"""Defences around the API's dependency calls (Postgres, Redis, NATS publish).

- ``deadline``: one budget per request (``LAB_API_DEADLINE_MS``); every dependency call is
  bounded by what is left of it (pool acquire and query together), and a call that misses
  it answers 504 with ``Retry-After``.
- ``retry``: exponential backoff with full jitter and a retry budget (a token bucket: retries
  stay under ``LAB_API_RETRY_BUDGET`` × calls); ``LAB_API_RETRY`` is ``off``, ``naive``
  (retry at once) or ``budgeted``.
- ``breaker``: a circuit breaker per dependency (closed → open → half-open), ``LAB_API_BREAKER``.
- ``guard``: the three around one dependency, with their metrics (``metrics``).
"""
