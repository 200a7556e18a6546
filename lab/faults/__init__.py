"""Faults the lab injects on purpose.

toxiproxy.py   an httpx client for Toxiproxy's HTTP API (the official server under
               Compose, lab.agents.netproxy natively: one client drives both)
net.py         the network fault kinds (latency, down, timeout...) as toxics
"""
