"""The quality figure: failing rows per column, stacked by check."""

from __future__ import annotations

import pandas as pd

from workbench.data import ColumnContract, Contract, ValidationResult, quality_figure, validate

CONTRACT = Contract(
    (
        ColumnContract("name", "str", pii=True),
        ColumnContract("age", "int", min=0, max=120),
        ColumnContract("city", "category", categories=("Roma", "Milano")),
    ),
    no_duplicate_rows=False,
)


def quarantined() -> ValidationResult:
    """Four people, three quarantined (one check each); the names are personal."""
    frame = pd.DataFrame(
        {
            "name": ["Anna Bianchi", "Bruno Verdi", "Carla Neri", "Dario Gialli"],
            "age": ["34", "-1", "abc", "200"],
            "city": ["Roma", "Torino", "Milano", "roma"],
        }
    )
    return validate(frame, CONTRACT, source="people.csv")


def test_quality_figure_stacks_checks_by_column() -> None:
    fig = quality_figure(quarantined())
    assert {t.name for t in fig.data} == {
        "must be >= 0",
        "type:int",
        "must be <= 120",
        "not one of ['Milano', 'Roma']",
    }
    assert "3 of 4 rows quarantined" in fig.layout.title.text
