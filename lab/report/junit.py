"""``junit.xml``: one test case per check, so CI shows a scenario's checks as tests.

A failed check is a ``<failure>`` whose message is the check's detail. A run that was
aborted gets one more case, ``run completed``, failed with the reason: an aborted run
must not look green even if every check it reached had passed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lab import fmt
from lab.fsio import atomic_write_bytes
from lab.run.verdict import Verdict


def write_junit(verdict: Verdict, path: Path) -> None:
    cases: list[ET.Element] = []
    for check in verdict.checks:
        case = ET.Element(
            "testcase", {"classname": f"prodlab.{verdict.scenario}", "name": check.name}
        )
        value = "no value" if check.value is None else f"{check.value:g}"
        text = f"{check.detail}\nvalue: {value}, wanted: {check.threshold}"
        if check.passed:
            ET.SubElement(case, "system-out").text = text
        else:
            failure = ET.SubElement(case, "failure", {"message": check.detail or check.name})
            failure.text = text
        cases.append(case)
    if verdict.aborted:
        case = ET.Element(
            "testcase", {"classname": f"prodlab.{verdict.scenario}", "name": "run completed"}
        )
        ET.SubElement(case, "failure", {"message": verdict.aborted}).text = verdict.aborted
        cases.append(case)

    duration = max(verdict.ended - verdict.started, 0.0)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "time": f"{duration:.1f}"}
    suites = ET.Element("testsuites", counts)
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": f"scenario {verdict.scenario} ({verdict.profile})",
            "tests": str(len(cases)),
            "failures": str(failures),
            "errors": "0",
            "skipped": "0",
            "time": f"{duration:.1f}",
            "timestamp": fmt.when(verdict.started).replace(" ", "T"),
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("title", verdict.title),
        ("profile", verdict.profile),
        ("runtime", verdict.runtime),
        ("slo_seconds", f"{verdict.slo_seconds:g}"),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    suite.extend(cases)
    ET.indent(suites)
    atomic_write_bytes(path, ET.tostring(suites, encoding="utf-8", xml_declaration=True))
