"""What astropy writes around the rows of a VOTable, made quiet and standard.

:func:`header_from_table` builds the VOTableFile for a Table as astropy's
``VOTableFile.from_table`` does, but without the warnings the caller did not cause
(astropy's W03 when it derives an XML ID from a table or column name; the IDs are the
same, derived quietly).
:func:`writing_as` is worn while a VOTableFile is written: it names its first table
(the exact, possibly non-ASCII name a table is sent under) and writes each unit in
VOUnit syntax, as VOTable 1.4 asks, without astropy's notices that VOUnit deprecates
``erg`` or ``Angstrom`` (which it still accepts).  Whatever it changed on a caller's
VOTableFile is put back afterwards.

astropy is imported inside the functions, never at import.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import SampDataError

if TYPE_CHECKING:
    from astropy.io.votable.tree import VOTableFile
    from astropy.table import Table

__all__ = ["header_from_table", "writing_as"]


class _UnitText(str):
    """A unit already written out: what astropy's ``Field.to_xml`` asks of a unit."""

    def to_string(self, *args: Any, **kwargs: Any) -> str:
        return str(self)


def header_from_table(table: Table) -> VOTableFile:
    """``VOTableFile.from_table(table)``, without astropy's warnings about derived IDs."""
    from astropy.io.votable.tree import Resource, TableElement, VOTableFile
    from astropy.utils.xml.check import fix_id

    votable = VOTableFile()
    checks = {**votable._get_version_checks(), "verify": "ignore"}
    votable._get_version_checks = lambda: dict(checks)  # the TABLE's config: quiet
    names = table.colnames
    placeholders = table.copy(copy_data=False)  # FIELDs derive IDs from names, loudly
    prefix = "c"
    while any(name.startswith(prefix) for name in names):  # renamed one by one: no clash
        prefix += "_"
    placeholders.rename_columns(names, [f"{prefix}{i}" for i in range(len(names))])
    try:
        element = TableElement.from_table(votable, placeholders)
    except (TypeError, ValueError, IndexError) as exc:
        raise SampDataError(f"cannot write this table as a VOTable: {exc}") from exc
    for field, name in zip(element.fields, names, strict=True):
        field.name, field.ID = name, fix_id(name)  # the ID astropy would derive
    resource = Resource()
    resource.tables.append(element)
    votable.resources.append(resource)
    return votable


@contextlib.contextmanager
def writing_as(votable: VOTableFile, name: str | None = None) -> Iterator[None]:
    """While writing *votable*: its first table called *name* (unless None), units in
    VOUnit text (VOTable 1.4 and later).  Everything is restored on exit."""
    restore: list[tuple[Any, str, Any]] = []
    try:
        first = next(iter(votable.iter_tables()), None)
        if name is not None and first is not None:
            restore.append((first, "name", first.name))
            first.name = name
        if _version(votable) >= (1, 4):
            for element in votable.iter_fields_and_params():
                unit = element._unit
                text = None if unit is None or isinstance(unit, str) else _vounit(unit)
                if text is not None:
                    restore.append((element, "_unit", unit))
                    element._unit = _UnitText(text)
        yield
    finally:
        for element, attribute, value in reversed(restore):
            setattr(element, attribute, value)


def _version(votable: VOTableFile) -> tuple[int, ...]:
    return tuple(int(part) for part in str(votable.version).split(".")[:2])


def _vounit(unit: Any) -> str | None:
    """*unit* in VOUnit syntax, quietly; None if VOUnit cannot write it (astropy decides)."""
    from astropy.units import UnitsWarning
    from astropy.units.format import VOUnit

    try:
        return str(VOUnit.to_string(unit, deprecations="silent"))
    except TypeError:  # astropy < 7 has no 'deprecations'
        pass
    except ValueError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        try:
            return str(unit.to_string("vounit"))
        except ValueError:
            return None
