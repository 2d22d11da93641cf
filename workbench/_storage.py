"""Folders the workbench stores things in: created on first use, or a clear error."""

from __future__ import annotations

from pathlib import Path

from workbench._exceptions import ConfigurationError

__all__ = ["make_dir"]


def make_dir(path: str | Path, what: str, setting: str | None = None) -> Path:
    """Create ``path`` (and its parents) if needed and check this process can write there.

    Args:
        path: The folder.
        what: What is kept there, for the message ("the feature store").
        setting: The setting that chose the folder, named in the message.

    Raises:
        ConfigurationError: The folder cannot be created or written (read-only file
            system, permissions, a file in the way, a full disk); the message names the
            folder, what it is for, and the reason.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{id(folder):x}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        hint = f" Point the {setting!r} setting at a writable folder." if setting else ""
        raise ConfigurationError(
            f"The folder of {what}, {folder}, cannot be created or written: "
            f"{exc.strerror or exc}.{hint}"
        ) from None
    return folder
