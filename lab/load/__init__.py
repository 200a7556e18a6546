"""The load generator: Locust in its own processes, driven over its web API.

``driver.LoadDriver`` starts and ends Locust and sets the load; ``locust_api`` speaks
Locust's web API; ``pids`` remembers the processes so a later run can end leftovers.
The user behaviour itself lives in ``loadtests/shop.py``.
"""
