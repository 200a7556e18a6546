"""Runtimes: where the lab's services run (local processes, or Docker Compose)."""

from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus, Runtime

__all__ = ["Endpoint", "Instance", "InstanceState", "LabStatus", "Runtime"]
