"""`python -m lab.cli` runs the `lab` command (tests use it to avoid PATH lookups)."""

from lab.cli import main

main()
