"""The run folder, ``runs/<timestamp>-<scenario>/``: its formats, its writer, its reader.

Neutral ground between the scenario engine, which writes a run folder
(``folder.RunFolder``), and the report, which reads one (``reader.read_run``); neither
imports the other. ``verdict`` holds the typed verdict, ``timeseries`` and ``locust`` the
CSV formats.
"""
