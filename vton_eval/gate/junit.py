"""The gate as JUnit XML, the format every CI system publishes as a test report.

One <testcase> per workflow x criterion (classname `vton-eval.gate.<workflow>`, name the
criterion): a <failure> on regression, <skipped> when not judged. A gate that cannot judge is one
<testcase name="gate"> with an <error>, so the report shows why instead of an empty suite.
"""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from vton_eval.gate.model import CANNOT_JUDGE, NOT_JUDGED, GateResult
from vton_eval.gate.text import change_text, interval_text, threshold_text, value_text, xml_clean


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})


def junit_tree(result: GateResult) -> ET.ElementTree:
    """Build the XML document (testsuites > testsuite > testcase) for `result`."""
    root = ET.Element("testsuites", {"name": "vton-eval gate"})
    suite = ET.SubElement(root, "testsuite", {
        "name": "vton-eval.gate", "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": "localhost",
    })
    props = ET.SubElement(suite, "properties")
    for key, value in (("verdict", result.verdict), ("candidate", result.candidate_id),
                       ("baseline", result.baseline_id), ("baseline_source", result.baseline_source),
                       ("shared_cases", result.shared_cases)):
        ET.SubElement(props, "property", {"name": key, "value": xml_clean(value if value is not None else "")})
    tests = failures = skipped = errors = 0
    if result.verdict == CANNOT_JUDGE:
        case = _case(suite, "vton-eval.gate", "gate")
        ET.SubElement(case, "error", {"type": "cannot_judge", "message": xml_clean("; ".join(result.reasons))}).text = \
            xml_clean("\n".join(result.reasons))
        tests, errors = 1, 1
    for wc in result.workflows:
        for crit in wc.criteria:
            tests += 1
            case = _case(suite, f"vton-eval.gate.{wc.workflow}", crit.name)
            detail = "\n".join([
                f"baseline:  {value_text(crit, 'baseline')}",
                f"candidate: {value_text(crit, 'candidate')}",
                f"change:    {change_text(crit)} (interval {interval_text(crit)}; allowed {threshold_text(crit)})",
                f"verdict:   {crit.verdict}: {crit.reason}",
            ])
            if crit.is_regression:
                failures += 1
                ET.SubElement(case, "failure", {"type": "regression", "message": xml_clean(crit.reason)}).text = \
                    xml_clean(detail)
            elif crit.verdict == NOT_JUDGED:
                skipped += 1
                ET.SubElement(case, "skipped", {"message": xml_clean(crit.reason)})
            else:
                ET.SubElement(case, "system-out").text = xml_clean(detail)
    notes = [*result.warnings]
    if result.new_error_kinds:
        notes.append("new error kinds: " + ", ".join(f"{k} ({v})" for k, v in result.new_error_kinds.items()))
    if notes:
        ET.SubElement(suite, "system-out").text = xml_clean("\n".join(notes))
    counts = {"tests": str(tests), "failures": str(failures), "errors": str(errors), "skipped": str(skipped),
              "time": "0"}
    suite.attrib.update(counts)
    root.attrib.update(counts)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: GateResult, path: str | os.PathLike[str]) -> Path:
    """Write the JUnit XML report; return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(result).write(target, encoding="utf-8", xml_declaration=True)
    return target
