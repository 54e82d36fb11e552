"""The fast VOTable writer with any Unicode, and without warnings the caller did not cause."""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("astropy")

import astropy.units as u
import numpy as np
from astropy.io.votable import parse
from astropy.table import MaskedColumn, Table

from minisamp import tables
from minisamp.tables import votable as votable_writer

pytestmark = pytest.mark.timeout(120)

EMOJI = "\U0001f600"


def written(table: Any, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our writer must not warn about what the user did not do
        tables.write_votable(table, buffer, **kwargs)
    return buffer.getvalue()


def read_back(xml: bytes) -> Table:
    return Table.read(io.BytesIO(xml), format="votable")


def test_text_beyond_the_bmp_stays_on_the_fast_path_and_reads_back_exactly() -> None:
    names = ["plain", f"emoji {EMOJI}", "Ångström ✓", "", EMOJI * 3, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
    table = Table(
        {
            "fixed": np.array(names),
            "objects": np.array([*names[:-1], None], dtype=object),
            "masked": MaskedColumn(names, mask=[False, True, False, False, False, False]),
        }
    )
    xml = written(table)
    assert b"<BINARY2>" in xml and b"<TABLEDATA>" not in xml
    back = read_back(xml)
    assert back["fixed"].tolist() == names
    assert back["objects"].tolist() == [*names[:-1], ""]
    assert back["masked"].tolist() == ["plain", "", *names[2:]]  # masked: written empty


def test_a_fixed_width_field_holds_every_surrogate_pair() -> None:
    values = np.array([f"a\x00\x00{EMOJI}{EMOJI}", f"{EMOJI}b", "c"])  # 7, 3, 1 units
    field = parse(io.BytesIO(written(Table({"s": values})))).get_first_table().fields[0]
    assert (field.datatype, field.arraysize) == ("unicodeChar", "7")


def test_beyond_the_bmp_across_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.array([EMOJI * (i % 4) + "é" * (i % 3) + str(i) for i in range(300)])
    monkeypatch.setattr(votable_writer, "_CHUNK_BYTES", 11)  # rows split across chunks
    back = read_back(written(Table({"s": values, "o": values.astype(object)})))
    assert back["s"].tolist() == values.tolist() == back["o"].tolist()


def test_votablefile_unicodechar_field_with_emoji_is_written_fast() -> None:
    from astropy.io.votable import from_table

    source = from_table(Table({"s": np.array([f"a{EMOJI}b", "c"])}))
    source.get_first_table().fields[0].datatype = "unicodeChar"
    source.get_first_table().fields[0].arraysize = "*"
    xml = written(source)
    assert b"<BINARY2>" in xml
    assert read_back(xml)["s"].tolist() == [f"a{EMOJI}b", "c"]


def test_no_warnings_for_deprecated_vounits_or_names_that_are_not_ids() -> None:
    table = Table(
        {
            "flux": [1.0, 2.0],
            "lambda": [5000.0, 6000.0],
            "B-V colour": [0.1, 0.2],
        },
        meta={"name": "my stars"},
    )
    table["flux"].unit = "erg / (s cm2 Angstrom)"
    table["lambda"].unit = "Angstrom"
    xml = written(table)  # raises if the writer warned (W03, UnitsWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", u.UnitsWarning)  # astropy's reader has its say
        fields = {f.name: f for f in parse(io.BytesIO(xml)).get_first_table().fields}
    assert fields["flux"].unit == u.erg / u.s / u.cm**2 / u.Angstrom
    assert fields["lambda"].unit == u.Angstrom
    text = xml.decode()
    assert 'unit="erg.Angstrom**-1.s**-1.cm**-2"' in text  # VOUnit syntax, VOTable 1.4
    assert 'unit="Angstrom"' in text


def test_column_names_are_kept_whatever_they_are() -> None:
    names = ["x", "c0", "c1", "c_0", "a b", "é"]
    table = Table({name: [i] for i, name in enumerate(names)})
    xml = written(table)
    assert [f.name for f in parse(io.BytesIO(xml)).get_first_table().fields] == names
    back = Table.read(io.BytesIO(xml), format="votable", use_names_over_ids=True)
    assert back.colnames == names and [back[n][0] for n in names] == list(range(len(names)))


def test_a_votablefile_is_left_as_it_was() -> None:
    from astropy.io.votable import from_table

    table = Table({"x": [1.0]})
    table["x"].unit = "Angstrom"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = from_table(table)
    before = source.get_first_table().fields[0].unit
    written(source, name="Ångström ✓")
    assert source.get_first_table().name is None
    assert source.get_first_table().fields[0].unit is before


def test_the_table_name_is_written_exactly() -> None:
    name = f"Ångström ✓ {EMOJI}"
    xml = written(Table({"x": [1]}), name=name)
    assert parse(io.BytesIO(xml)).get_first_table().name == name


def test_samp_text_is_ascii_and_faithful() -> None:
    import codecs

    from minisamp.datatypes import samp_text

    name = f"Ångström ✓ {EMOJI}"
    text = samp_text(name)
    assert text == "\\u00c5ngstr\\u00f6m \\u2713 \\U0001f600"
    assert codecs.decode(text, "unicode_escape") == name
    assert samp_text("plain name, kept as is") == "plain name, kept as is"
    assert samp_text("tab\tand bell\x07") == "tab\tand bell\\u0007"


def test_stilts_reads_our_unicode_table_as_astropy_does(tmp_path: Path) -> None:
    """STIL is what TOPCAT reads tables with."""
    stilts = shutil.which("stilts")
    if stilts is None:
        pytest.skip("STILTS is not installed: apt-get install stilts")
    name = "Ångström ✓"
    path = tmp_path / "t.xml"
    path.write_bytes(written(Table({"s": np.array(["Bételgeuse", "✓ ok"])}), name=name))
    result = subprocess.run(
        [stilts, "tpipe", f"in={path}", "omode=meta"],
        capture_output=True,
        timeout=90,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    out = result.stdout.decode("utf-8", errors="replace")
    assert name in out
    rows = subprocess.run(
        [stilts, "tpipe", f"in={path}", "ofmt=csv"],
        capture_output=True,
        timeout=90,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    assert rows.stdout.decode("utf-8").splitlines()[1:] == ["Bételgeuse", "✓ ok"]
