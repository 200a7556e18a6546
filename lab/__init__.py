"""prodlab: a hands-on lab for learning how production backends behave under load."""

__version__ = "0.1.0"
