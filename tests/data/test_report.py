from __future__ import annotations

import pandas as pd

from workbench.data import (
    ColumnContract,
    Contract,
    QualityReport,
    mask_value,
    quality_figure,
    validate,
)
from workbench.data._mask import MASK_PREFIX

CONTRACT = Contract(
    (
        ColumnContract("name", "str", pii=True),
        ColumnContract("age", "int", min=0, max=120),
        ColumnContract("city", "category", categories=("Roma", "Milano")),
    ),
    no_duplicate_rows=False,
)


def _result():  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "name": ["Anna Bianchi", "Bruno Verdi", "Carla Neri", "Dario Gialli"],
            "age": ["34", "-1", "abc", "200"],
            "city": ["Roma", "Torino", "Milano", "roma"],
        }
    )
    return validate(frame, CONTRACT, source="people.csv")


def test_quality_figure_stacks_checks_by_column() -> None:
    fig = quality_figure(_result())
    assert {t.name for t in fig.data} == {
        "must be >= 0",
        "type:int",
        "must be <= 120",
        "not one of ['Milano', 'Roma']",
    }
    assert "3 of 4 rows quarantined" in fig.layout.title.text


def test_report_drills_down_to_masked_example_rows() -> None:
    report = QualityReport(_result())
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
