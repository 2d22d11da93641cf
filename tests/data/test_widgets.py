"""The quality report widget: summary, drill-down to masked example rows, its figure."""

from __future__ import annotations

import pandas as pd

from tests.data.test_figures import CONTRACT, quarantined
from workbench.data import QualityReport, mask_value, validate
from workbench.data._mask import MASK_PREFIX


def test_report_drills_down_to_masked_example_rows() -> None:
    report = QualityReport(quarantined())
    assert "3 quarantined of 4 rows" in report.header.value
    assert report.picker.options[0].startswith(("age:", "city:"))
    report.picker.value = "city: not one of ['Milano', 'Roma']"
    assert "Torino" in report.rows.value
    assert "Bruno Verdi" not in report.rows.value and MASK_PREFIX in report.rows.value
    assert mask_value("Bruno Verdi") in report.rows.value  # same pseudonym everywhere
    everything = report.header.value + report.table.value + report.rows.value
    assert not any(n in everything for n in ("Anna", "Bruno", "Carla", "Dario"))
    shown = report.plot.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert shown["layout"]["title"]["text"].startswith("3 of 4")


def test_a_clean_result_has_nothing_to_drill_into() -> None:
    frame = pd.DataFrame({"name": ["Anna"], "age": ["3"], "city": ["Roma"]})
    report = QualityReport(validate(frame, CONTRACT))
    assert "passed" in report.header.value and report.picker.options == ()
