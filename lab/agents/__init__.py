"""Programs that run as their own processes, beside or inside the lab's services.

    process_exporter    CPU/memory of each process tree a native lab runs (host process)
    container_exporter  CPU/memory of each container of a compose project (in a container)
    usage               what both exporters share: the collector base, a monotonic total
    replica_name        the app image's entrypoint: names a replica ``api-2`` from DNS
    secrets             the compose stack's one-shot password generator
    bench_baseline      the bare servers ``lab bench`` compares a replica with

Each runs as ``python -m lab.agents.<name>``, some inside the app image where only the
app's dependencies are installed: so nothing here imports the runtimes, the scenario
engine or python-on-whales.
"""
