"""The lab's own Toxiproxy: a small asyncio TCP proxy that speaks Toxiproxy's HTTP API.

Toxiproxy (github.com/Shopify/toxiproxy) cannot be installed on the lab's machines, so
natively the lab runs this program, and under Compose the ``toxiproxy`` service runs the
official image (or a stand-in running this same program). One client
(``lab.faults.toxiproxy``) drives both.

    toxics.py   the toxic model: types, attributes, validation, JSON shapes
    link.py     one proxied connection: two pumps that apply the live toxics
    proxy.py    one proxy: a listener, its links, its toxics, enable/disable
    api.py      the HTTP API (Toxiproxy's routes and JSON shapes)
    __main__    ``python -m lab.agents.netproxy --host 127.0.0.1 --port 8474``
"""
