"""The load generator: Locust in its own processes, driven over its web API.

``driver.LoadDriver`` starts and ends Locust, sets the load, measures its CPU and has the
runtime register its metrics exporter with Prometheus (``ScrapeTargets``);
``locust_api`` speaks Locust's web API; ``pids`` remembers the processes so a later
``lab down`` can end leftovers (``reap_leftovers``). The user behaviour itself lives in
``loadtests/shop.py``.
"""
