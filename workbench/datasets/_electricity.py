"""A generator of daily electricity consumption for N factories, dirt included.

The clean process, per factory and day:

* temperature: a seasonal curve per region plus day-to-day noise;
* open days produce ``production_volume`` units around the factory's capacity; a factory
  is closed on Sundays and on national holidays (``holidays`` package), producing nothing;
* consumption = base load + energy per unit × volume + heating/cooling load + noise;
* after ``change_date`` a regime change (a new production line) raises every factory's
  volume by ``volume_shift``, so consumption and its trailing mean move with it, while the
  calendar and the weather stay as they were.

Then the dirt of a real raw export is laid over it (:class:`DirtConfig`): missing cells,
negative meter readings, duplicated rows, numbers written with comma decimals, and
inconsistent spellings of the region.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench._exceptions import ConfigurationError
from workbench._imports import require

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DirtConfig", "ElectricityData", "make_electricity", "write_electricity_csv"]

REGIONS = ("Nord", "Centro", "Sud")
_REGION_TEMP_OFFSET = {"Nord": -2.0, "Centro": 0.0, "Sud": 3.0}
# How raw exports misspell a region: case, stray spaces, abbreviations.
_MISSPELLINGS = {
    "Nord": (" nord", "NORD", "Nord ", "N"),
    "Centro": ("centro", "CENTRO ", " Centro", "C"),
    "Sud": ("sud", " SUD", "Sud ", "S"),
}
NUMERIC_COLUMNS = ("temperature_c", "production_volume", "consumption_kwh")


@dataclasses.dataclass(frozen=True)
class DirtConfig:
    """Shares of the raw export that are dirty, each in [0, 1].

    Attributes:
        missing: Share of numeric cells left empty.
        negative_readings: Share of consumption readings with a flipped sign.
        duplicates: Share of rows exported twice.
        comma_decimals: Share of numeric cells written with a comma decimal ("1234,5").
        misspelled_regions: Share of rows whose region is spelled another way.
    """

    missing: float = 0.02
    negative_readings: float = 0.005
    duplicates: float = 0.01
    comma_decimals: float = 0.15
    misspelled_regions: float = 0.1

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(
                    f"The {field.name!r} share of DirtConfig must be in [0, 1]. "
                    f"Got {value!r} instead."
                )

    @classmethod
    def none(cls) -> DirtConfig:
        """A perfectly clean export."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class ElectricityData:
    """What :func:`make_electricity` returns.

    Attributes:
        raw: The dirty export as text columns, the way a CSV reader sees it.
        truth: The clean frame the export was made from (typed, one row per factory-day).
        change_date: First day of the new regime.
        changed_columns: Raw columns whose distribution the regime change moves.
        stable_columns: Raw columns the regime change leaves alone.
    """

    raw: pd.DataFrame
    truth: pd.DataFrame
    change_date: dt.date
    changed_columns: tuple[str, ...] = ("production_volume", "consumption_kwh")
    stable_columns: tuple[str, ...] = ("temperature_c", "region")


def _as_date(value: str | dt.date, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"The {name!r} parameter must be an ISO date (YYYY-MM-DD). Got {value!r}."
        ) from None


def make_electricity(
    n_factories: int = 20,
    start: str | dt.date = "2023-07-01",
    end: str | dt.date = "2025-06-30",
    change_date: str | dt.date = "2024-07-01",
    *,
    volume_shift: float = 1.4,
    country: str = "IT",
    dirt: DirtConfig | None = None,
    seed: int = 0,
) -> ElectricityData:
    """Generate daily consumption for ``n_factories`` factories between two dates.

    The same arguments always give the same frames.

    Args:
        n_factories: Number of factories (the entity), at least 1.
        start: First day (inclusive).
        end: Last day (inclusive).
        change_date: First day of the regime change; must lie in (start, end].
        volume_shift: Factor applied to production volume from ``change_date`` on.
        country: Country whose national holidays close the factories.
        dirt: How dirty the raw export is; ``DirtConfig()`` by default.
        seed: Random seed.

    Returns:
        An :class:`ElectricityData` with the raw export and the clean truth.

    Raises:
        ConfigurationError: An argument is out of range.

    Example:
        >>> data = make_electricity(n_factories=2, start="2024-01-01", end="2024-01-31",
        ...                         change_date="2024-01-20")
        >>> sorted(data.truth["factory_id"].unique())
        ['F001', 'F002']
    """
    import pandas as pd

    holidays = require("holidays", feature="holiday calendars")
    if n_factories < 1:
        raise ConfigurationError(f"n_factories must be at least 1. Got {n_factories!r}.")
    first, last = _as_date(start, "start"), _as_date(end, "end")
    change = _as_date(change_date, "change_date")
    if not first < change <= last:
        raise ConfigurationError(
            f"change_date must lie after start and no later than end "
            f"({first} < change_date <= {last}). Got {change}."
        )
    dirt = DirtConfig() if dirt is None else dirt
    rng = np.random.default_rng(seed)

    days = pd.date_range(first, last, freq="D")
    n_days = len(days)
    try:
        calendar = holidays.country_holidays(country, years=range(first.year, last.year + 1))
    except NotImplementedError:
        raise ConfigurationError(
            f"The 'country' parameter must be a country known to the holidays package. "
            f"Got {country!r}."
        ) from None
    holiday = np.array([d.date() in calendar for d in days])
    closed = (days.dayofweek.to_numpy() == 6) | holiday
    after = np.asarray(days >= pd.Timestamp(change))
    doy = days.dayofyear.to_numpy()
    season = 15.0 + 9.0 * np.sin(2 * np.pi * (doy - 110) / 365.25)

    ids = [f"F{i + 1:03d}" for i in range(n_factories)]
    regions = rng.choice(REGIONS, size=n_factories)
    capacity = rng.uniform(800, 3000, size=n_factories)
    per_unit = rng.uniform(1.5, 3.0, size=n_factories)
    base = rng.uniform(200, 600, size=n_factories)
    climate = rng.uniform(8, 20, size=n_factories)

    frames = []
    for i in range(n_factories):
        temp = season + _REGION_TEMP_OFFSET[regions[i]] + rng.normal(0, 2.5, n_days)
        volume = capacity[i] * rng.uniform(0.8, 1.1, n_days)
        volume = np.where(after, volume * volume_shift, volume)
        volume = np.where(closed, 0.0, volume)
        hvac = climate[i] * np.abs(temp - 18.0) * np.where(closed, 0.4, 1.0)
        expected = base[i] + per_unit[i] * volume + hvac
        consumption = expected * (1.0 + rng.normal(0, 0.03, n_days))
        frames.append(
            pd.DataFrame(
                {
                    "date": days,
                    "factory_id": ids[i],
                    "region": regions[i],
                    "temperature_c": temp.round(1),
                    "production_volume": volume.round(0),
                    "consumption_kwh": consumption.round(1),
                }
            )
        )
    truth = pd.concat(frames, ignore_index=True).sort_values(["date", "factory_id"])
    truth = truth.reset_index(drop=True)
    raw = _dirty_export(truth, dirt, rng)
    return ElectricityData(raw=raw, truth=truth, change_date=change)


def _dirty_export(truth: pd.DataFrame, dirt: DirtConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Turn the clean frame into the text a raw CSV export would hold."""
    import pandas as pd

    n = len(truth)
    raw = pd.DataFrame(
        {
            "date": truth["date"].dt.strftime("%Y-%m-%d"),
            "factory_id": truth["factory_id"],
            "region": truth["region"].astype(object),
        }
    )
    consumption = truth["consumption_kwh"].to_numpy().copy()
    flip = rng.random(n) < dirt.negative_readings
    consumption[flip] = -consumption[flip]
    values = {
        "temperature_c": truth["temperature_c"].to_numpy(),
        "production_volume": truth["production_volume"].to_numpy(),
        "consumption_kwh": consumption,
    }
    for column, numbers in values.items():
        text = np.array([repr(float(v)) for v in numbers], dtype=object)
        comma = rng.random(n) < dirt.comma_decimals
        text[comma] = [s.replace(".", ",") for s in text[comma]]
        missing = rng.random(n) < dirt.missing
        text[missing] = ""
        raw[column] = text
    misspell = np.flatnonzero(rng.random(n) < dirt.misspelled_regions)
    region = raw["region"].to_numpy(copy=True)
    for row in misspell:
        options = _MISSPELLINGS[region[row]]
        region[row] = options[rng.integers(len(options))]
    raw["region"] = region
    dup = np.flatnonzero(rng.random(n) < dirt.duplicates)
    if len(dup):
        raw = pd.concat([raw, raw.iloc[dup]], ignore_index=True)
        order = np.argsort(np.concatenate([np.arange(n), dup + 0.5]), kind="stable")
        raw = raw.iloc[order].reset_index(drop=True)
    return raw.astype(object)


def write_electricity_csv(
    data: ElectricityData, folder: str | Path, name: str = "electricity.csv"
) -> Path:
    """Write the raw export to ``folder/name`` (usually ``data/raw``) and return the path."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data.raw.to_csv(path, index=False)
    return path
