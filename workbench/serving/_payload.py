"""Request bodies to typed columns, checked against the model's signature.

MLflow's own parser (``infer_and_parse_data``) builds a DataFrame through pandas' JSON
reader and the model then casts it again (``_enforce_schema``): about 5 ms of a one-row
request on a small machine. Here each column is converted once, straight to the dtype the
signature declares, and a value that does not fit is refused with the field, the row and
the value. What this parser does not cover (tensor signatures, array or object columns,
``params``, no signature) goes to MLflow's parser unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "Columns", "InputSpec", "PayloadError", "is_text", "read_json", "unique_keys"]

#: The JSON shapes of MLflow's scoring protocol.
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NUMBER = ("double", "float", "long", "integer")
_KINDS = (*_NUMBER, "string", "boolean", "datetime")


class PayloadError(ValueError):
    """A request body that does not fit the signature; the message names where and why."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice: which value counts is ambiguous
    (Python keeps the last, other parsers the first), and a model input must not be a guess."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        counts = Counter(k for k, _ in pairs)
        twice = sorted(k for k, n in counts.items() if n > 1)
        raise PayloadError(
            f"The JSON body names the key(s) {twice} twice in one object; send each key once."
        )
    return obj


def read_json(body: bytes) -> Any:
    """A request body as JSON, or a :class:`PayloadError` that says what is wrong with it
    (a repeated key, not JSON, nested too deeply, a number too long to read)."""
    try:
        return json.loads(body, object_pairs_hook=unique_keys)
    except PayloadError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise PayloadError("The request body is JSON nested too deeply.") from None
    except ValueError as exc:  # a number longer than Python reads (4300 digits)
        reason = str(exc).split(";")[0]  # not the advice meant for the server
        raise PayloadError(f"The request body holds a value JSON cannot read: {reason}.") from None


@dataclass(frozen=True)
class Columns:
    """One request's inputs: a 1-D array per signature column, all ``rows`` long; in
    ``extra`` the columns logged beside them (:attr:`InputSpec.extra`), as text."""

    arrays: dict[str, np.ndarray]
    rows: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class InputSpec:
    """The signature's columns: (name, type, required), in order.

    ``supported`` is False when a column type (or the schema kind) is not one this parser
    converts; the server then uses MLflow's parser for every request.
    """

    columns: tuple[tuple[str, str, bool], ...]
    supported: bool
    #: Columns outside the signature kept for the inference log when a request has them
    #: (the event time its data contract names), never given to the model.
    extra: tuple[str, ...] = ()

    @classmethod
    def from_schema(cls, schema: Any) -> InputSpec:
        if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
            return cls((), False)
        columns = []
        for spec in schema.inputs:
            kind = getattr(getattr(spec, "type", None), "name", None)
            columns.append((spec.name, str(kind), bool(getattr(spec, "required", True))))
        return cls(tuple(columns), all(kind in _KINDS for _, kind, _ in columns))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.columns]

    # -- JSON ---------------------------------------------------------------------------

    def parse_json(self, payload: dict[str, Any]) -> Columns:
        """Columns from a decoded JSON body in one of :data:`FORMATS`.

        Raises:
            PayloadError: The body's shape or a value does not fit.
        """
        keys = [k for k in payload if k in FORMATS]
        extra = [k for k in payload if k not in FORMATS]
        if len(keys) != 1 or extra:
            raise PayloadError(
                f"The JSON body needs exactly one of {', '.join(FORMATS)} (and nothing else); "
                f"got the keys {list(payload)}."
            )
        key = keys[0]
        body = payload[key]
        if key == "dataframe_split":
            return self._from_split(body)
        if key == "dataframe_records":
            return self._from_records(body, key)
        if isinstance(body, list):
            return self._from_records(body, key)
        if isinstance(body, dict):
            return self._from_mapping(body, key)
        raise PayloadError(
            f"'{key}' must be a list of records or an object of columns; got {_show(body)}."
        )

    def _from_split(self, body: Any) -> Columns:
        if not isinstance(body, dict) or "data" not in body:
            raise PayloadError(
                "'dataframe_split' must be an object with 'columns' and 'data' "
                '(for example {"columns": ["a"], "data": [[1.0]]}).'
            )
        names = body.get("columns", self.names)
        data = body["data"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PayloadError("'dataframe_split.columns' must be a list of column names.")
        if len(set(names)) != len(names):  # which of the two would count is a guess
            twice = sorted({n for n in names if names.count(n) > 1})
            raise PayloadError(
                f"'dataframe_split.columns' names the column(s) {twice} more than once; send "
                f"each column once."
            )
        if not isinstance(data, list):
            raise PayloadError("'dataframe_split.data' must be a list of rows.")
        width = len(names)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                raise PayloadError(
                    f"'dataframe_split.data[{i}]' must be a list of {width} values, one per "
                    f"column; got {_show(row)}."
                )
        by_name = dict(zip(names, zip(*data, strict=True), strict=True)) if data else {}
        if not data:
            by_name = {name: () for name in names}
        return self._convert(by_name, len(data), "dataframe_split")

    def _from_records(self, body: Any, key: str) -> Columns:
        if not isinstance(body, list):
            raise PayloadError(f"'{key}' must be a list of records (objects); got {_show(body)}.")
        for i, record in enumerate(body):
            if not isinstance(record, dict):
                raise PayloadError(
                    f"'{key}[{i}]' must be an object of column values; got {_show(record)}."
                )
        names = [*self.names, *self.extra]
        present = {n for record in body for n in record}
        by_name = {n: [record.get(n) for record in body] for n in names if n in present}
        return self._convert(by_name, len(body), key)

    def _from_mapping(self, body: dict[str, Any], key: str) -> Columns:
        lengths = {len(v) if isinstance(v, list) else -1 for v in body.values()}
        if lengths == {-1}:  # one row given as scalars
            return self._convert({k: [v] for k, v in body.items()}, 1, key)
        if -1 in lengths or len(lengths) > 1:
            shape = {k: len(v) if isinstance(v, list) else "scalar" for k, v in body.items()}
            raise PayloadError(
                f"'{key}' given as columns needs a list per column, all the same length; "
                f"got {shape}."
            )
        return self._convert(body, lengths.pop() if lengths else 0, key)

    # -- CSV ----------------------------------------------------------------------------

    def parse_csv(self, text: str) -> Columns:
        """Columns from a CSV body with a header row."""
        import pandas as pd

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # index_col=False: a row longer than the header must not turn its first
                # values into an index and shift the rest into the wrong columns
                frame = pd.read_csv(
                    io.StringIO(text), dtype=str, keep_default_na=False, index_col=False
                )
        except pd.errors.ParserWarning:
            raise PayloadError(
                "The CSV body has a row with more values than the header has column names."
            ) from None
        except (ValueError, pd.errors.ParserError) as exc:
            raise PayloadError(f"The CSV body cannot be read: {str(exc).strip()}") from exc
        if any(re.fullmatch(r".+\.\d+", str(c)) for c in frame.columns):  # "a.1": a second "a"?
            header = next(csv.reader(io.StringIO(text)))
            twice = sorted({c for c in header if header.count(c) > 1})
            if twice:
                raise PayloadError(
                    f"CSV: the header names the column(s) {twice} more than once; send each "
                    f"column once."
                )
        by_name: dict[str, Any] = {}
        for name, kind, _ in self.columns:
            if name not in frame.columns:
                continue
            texts = frame[name].tolist()
            if kind in _NUMBER or kind == "boolean":
                by_name[name] = [_csv_scalar(t, kind) for t in texts]
            else:
                by_name[name] = [None if t == "" else t for t in texts]
        for name in self.extra:
            if name in frame.columns and name not in by_name:
                by_name[name] = [None if t == "" else t for t in frame[name].tolist()]
        return self._convert(by_name, len(frame), "CSV")

    # -- conversion ---------------------------------------------------------------------

    def _convert(self, by_name: dict[str, Any], rows: int, where: str) -> Columns:
        # Every column must be there, optional ones too (their values may be null): the
        # model needs them all, and a misspelt name must not turn into missing values.
        if rows == 0:  # said first: with no rows, every column is "missing" too
            raise PayloadError(f"{where}: the request has no rows to predict.")
        missing = [name for name in self.names if name not in by_name]
        if missing:
            raise PayloadError(
                f"{where}: the model's signature has the column(s) {missing}, which the "
                f"request does not have (it has {sorted(by_name)}); send every column, "
                f"null where a value is unknown."
            )
        arrays = {
            name: _column(name, kind, required, list(by_name[name]), where)
            for name, kind, required in self.columns
        }
        extra = {
            name: np.array([None if v is None else str(v) for v in by_name[name]], dtype=object)
            for name in self.extra
            if name in by_name and name not in arrays and len(by_name[name]) == rows
        }
        return Columns(arrays, rows, extra)

    def frame(self, columns: Columns) -> pd.DataFrame:
        """The DataFrame a model predicts on, columns in signature order.

        When every column has one dtype (all numbers, say) the frame is one 2-D block:
        20× faster to build than column by column, and scikit-learn converts it to an
        array without consolidating blocks (a third off a one-row prediction).
        """
        import pandas as pd

        index = self._index()
        arrays = [columns.arrays[name] for name in self.names]
        if arrays and all(a.dtype == arrays[0].dtype and a.dtype != object for a in arrays):
            return pd.DataFrame(np.column_stack(arrays), columns=index, copy=False)
        return pd.DataFrame(dict(zip(self.names, arrays, strict=True)), columns=index, copy=False)

    def _index(self) -> pd.Index:
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            import pandas as pd

            cached = pd.Index(self.names, dtype=object)
            object.__setattr__(self, "_cached_index", cached)  # frozen, computed once
        return cached


def is_text(value: str) -> bool:
    """Whether ``value`` can be stored as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv_scalar(text: str, kind: str) -> Any:
    if text == "":
        return None
    if kind == "boolean":
        lowered = text.strip().lower()
        return {"true": True, "false": False, "1": True, "0": False}.get(lowered, text)
    if kind in ("long", "integer"):
        try:  # exactly, however long: a float would round past 2**53 and overflow at 1e308
            return int(text)
        except ValueError:
            pass
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if kind in ("long", "integer") and number.is_integer() else number


def _refuse(where: str, name: str, i: int, value: Any, expected: str) -> PayloadError:
    return PayloadError(
        f"{where}: column {name!r}, row {i}: expected {expected}, got {_show(value)}."
    )


def _column(name: str, kind: str, required: bool, values: list[Any], where: str) -> np.ndarray:
    if kind in _NUMBER:
        integer = kind in ("long", "integer")
        try:
            arr = np.asarray(values)
        except (ValueError, OverflowError):
            arr = np.asarray(values, dtype=object)
        # uint64 holds whole numbers from 2**63, which int64 would wrap to negative ones
        if arr.ndim == 1 and (arr.dtype.kind == "i" or (arr.dtype.kind == "u" and not integer)):
            return arr.astype(np.int64 if integer else np.float64, copy=False)
        if arr.dtype.kind == "f" and arr.ndim == 1 and not integer:
            infinite = np.isinf(arr)
            if not infinite.any():  # NaN is a missing value, like null; ±inf is no value
                return arr.astype(np.float64, copy=False)
            i = int(np.argmax(infinite))
            raise _refuse(where, name, i, values[i], f"a finite number ({kind})")
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            if v is None:
                if integer and required:
                    raise _refuse(where, name, i, v, f"a whole number ({kind}), not missing")
                out[i] = math.nan
                continue
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise _refuse(where, name, i, v, f"a number ({kind})")
            if integer and isinstance(v, int):  # exact: no detour through a float
                if not -(2**63) <= v < 2**63:
                    raise _refuse(where, name, i, v, f"a whole number ({kind}) within 64 bits")
                out[i] = v
                continue
            try:
                number = float(v)
            except OverflowError:  # an integer past the largest float (about 1.8e308)
                raise _refuse(where, name, i, v, f"a finite number ({kind})") from None
            if integer and not number.is_integer():
                raise _refuse(where, name, i, v, f"a whole number ({kind})")
            if integer and not -(2**63) <= number < 2**63:
                raise _refuse(where, name, i, v, f"a whole number ({kind}) within 64 bits")
            if math.isinf(number):
                raise _refuse(where, name, i, v, f"a finite number ({kind})")
            out[i] = number
        if integer and not np.isnan(out).any():
            return out.astype(np.int64)
        return out
    if kind == "string":
        for i, v in enumerate(values):
            if v is not None and not isinstance(v, str):
                raise _refuse(where, name, i, v, "text (string)")
        try:  # JSON can carry lone surrogates ("\ud800"), which no file format stores
            "".join(v for v in values if v is not None).encode("utf-8")
        except UnicodeEncodeError:
            i = next(i for i, v in enumerate(values) if v is not None and not is_text(v))
            raise _refuse(where, name, i, values[i], "valid Unicode text") from None
        return np.asarray(values, dtype=object)
    if kind == "boolean":
        for i, v in enumerate(values):
            if v is None and required:
                raise _refuse(where, name, i, v, "true or false, not missing")
            if v is not None and not isinstance(v, bool):
                raise _refuse(where, name, i, v, "true or false (boolean)")
        if any(v is None for v in values):
            return np.asarray(values, dtype=object)
        return np.asarray(values, dtype=bool)
    # datetime
    import pandas as pd

    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            raise _refuse(where, name, i, v, "a date-time (ISO 8601 text)") from None
    return np.asarray(pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601"))
