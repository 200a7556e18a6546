"""Capacity planning: from measured knees to a sized plan for millions of users.

Pure functions with explicit inputs; nothing here boots, measures or reads a run:

    usl.py      the Universal Scalability Law: fit (σ, κ, λ) to knees, the peak N*, a
                held-out check
    model.py    the user model (a YAML file, validated) and ``Measured`` (the lab's figures)
    demand.py   what a number of users asks for: peak req/s, orders/s, the cache working set
                and the hit ratio a TTL cache reaches under a Zipf skew
    plan.py     one row per user count: replicas, connections, cache, workers, and the first
                component that breaks with its standard fix
    render.py   the rows as JSON, as a Markdown table, and one plot
"""
