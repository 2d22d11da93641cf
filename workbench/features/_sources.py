"""Where a feature view's raw rows come from, and reading them.

A :class:`Source` names its rows (a Parquet or CSV file, a SQL query, a DataFrame in
memory) for the registry without a password, and :meth:`Source.read` reads them, a CSV
through its data contract when it has one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench._urls import redact_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Source"]


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a feature view's raw rows come from.

    Build one with :meth:`parquet`, :meth:`csv`, :meth:`sql` or :meth:`frame`. Relative
    paths are taken relative to the project folder.
    """

    kind: str
    path: str | None = None
    url: str | None = None
    query: str | None = None
    name: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data: Any = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def parquet(cls, path: str | Path) -> Source:
        """A Parquet file (or a folder of Parquet files)."""
        return cls("parquet", path=str(path))

    @classmethod
    def csv(cls, path: str | Path, *, contract: Any = None, **read_options: Any) -> Source:
        """A CSV file; with a data ``contract`` only its valid rows are used."""
        options = dict(read_options)
        if contract is not None:
            options["contract"] = contract
        return cls("csv", path=str(path), options=options)

    @classmethod
    def sql(cls, url: str, query: str) -> Source:
        """The rows of a SQL ``query`` on a SQLAlchemy ``url``."""
        return cls("sql", url=url, query=query)

    @classmethod
    def frame(cls, data: pd.DataFrame, name: str) -> Source:
        """A DataFrame held in memory, under a ``name`` for the registry."""
        return cls("frame", name=name, data=data)

    def identity(self) -> dict[str, Any]:
        """What names this source in the registry (never a password)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.path is not None:
            out["path"] = self.path
        if self.url is not None:
            out["url"] = redact_url(self.url)
        if self.query is not None:
            out["query"] = self.query
        if self.name is not None:
            out["name"] = self.name
        options = {k: v for k, v in self.options.items() if k != "contract"}
        if options:
            out["options"] = {k: repr(v) for k, v in sorted(options.items())}
        if "contract" in self.options:
            out["contract"] = getattr(self.options["contract"], "name", "contract")
        return out

    def read(self, project_dir: Path) -> pd.DataFrame:
        """The source's rows.

        Raises:
            DataError: The file or table cannot be read; the message names it.
        """
        import pandas as pd

        if self.kind == "frame":
            if not isinstance(self.data, pd.DataFrame):
                raise DataError(f"Source {self.name!r} holds no DataFrame.")
            return self.data
        if self.kind == "sql":
            from workbench.data import load

            return load(str(self.url), query=self.query)
        path = Path(str(self.path))
        path = path if path.is_absolute() else project_dir / path
        if not path.exists():
            raise DataError(f"The feature source {path} does not exist.")
        if self.kind == "parquet":
            try:
                return pd.read_parquet(path)
            except Exception as exc:
                raise DataError(f"Cannot read the Parquet source {path}: {exc}") from exc
        if self.kind == "csv":
            options = dict(self.options)
            contract = options.pop("contract", None)
            if contract is not None:
                from workbench.data import load, validate

                result = validate(load(path, contract=contract), contract, source=str(path))
                valid: pd.DataFrame = result.valid.drop(columns="_row", errors="ignore")
                return valid
            try:
                read: pd.DataFrame = pd.read_csv(path, **options)
                return read
            except Exception as exc:
                raise DataError(f"Cannot read the CSV source {path}: {exc}") from exc
        raise ConfigurationError(
            f"Unknown source kind {self.kind!r}; use Source.parquet, .csv, .sql or .frame."
        )
