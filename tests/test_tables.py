"""Tests of minisamp.tables and minisamp.tables.votable: files, URLs, the fast VOTable writer."""

from __future__ import annotations

import base64
import gzip
import io
import os
import re
import stat
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from httputil import serving_directory
from needs import needs

pytest.importorskip("astropy", reason="astropy is not installed (pip install astropy)")

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.io.votable import from_table, parse
from astropy.io.votable.tree import Info, Param
from astropy.table import Column, MaskedColumn, QTable, Table

from minisamp import tables
from minisamp.errors import (
    MissingDependencyError,
    PeerProtocolError,
    SampDataError,
    TransportError,
)
from minisamp.tables import votable as votable_writer

# --- helpers ----------------------------------------------------------------------------


def to_bytes(table: Any) -> bytes:
    buffer = io.BytesIO()
    tables.write_votable(table, buffer)
    return buffer.getvalue()


def round_trip(table: Any) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what we write must not make astropy complain
        return Table.read(io.BytesIO(to_bytes(table)), format="votable")


def fields_of(xml: bytes) -> dict[str, dict[str, str]]:
    votable = parse(io.BytesIO(xml))
    return {
        f.name: {"datatype": f.datatype, "arraysize": f.arraysize}
        for f in votable.get_first_table().fields
    }


def binary2_bytes(xml: bytes) -> bytes:
    match = re.search(rb"<BINARY2>\s*<STREAM encoding=\"base64\">(.*?)</STREAM>", xml, re.S)
    assert match, "no BINARY2 stream in the output"
    return base64.b64decode(b"".join(match.group(1).split()))


def sample_table(n: int = 5) -> Table:
    rng = np.random.default_rng(42)
    return Table(
        {
            "id": np.arange(n),
            "ra": rng.uniform(0, 360, n),
            "name": np.array([f"src{i}" for i in range(n)]),
            "dec": rng.uniform(-90, 90, n),
        }
    )


# --- the fast writer: values ------------------------------------------------------------


def test_output_is_binary2_votable_that_astropy_reads() -> None:
    xml = to_bytes(sample_table())
    assert b"<BINARY2>" in xml and b"<TABLEDATA>" not in xml
    result = Table.read(io.BytesIO(xml), format="votable")
    assert result.colnames == ["id", "ra", "name", "dec"]
    assert len(result) == 5


@pytest.mark.parametrize(
    ("dtype", "datatype"),
    [
        (np.int8, "short"),
        (np.uint8, "unsignedByte"),
        (np.int16, "short"),
        (np.int32, "int"),
        (np.int64, "long"),
        (np.uint16, "int"),
        (np.uint32, "long"),
    ],
)
def test_integers_of_every_width_round_trip_exactly(dtype: Any, datatype: str) -> None:
    info = np.iinfo(dtype)
    values = np.array([info.min, 0, 1, info.max], dtype=dtype)
    table = Table({"x": values})
    assert fields_of(to_bytes(table))["x"]["datatype"] == datatype
    result = round_trip(table)["x"]
    assert result.tolist() == values.tolist()


def test_uint64_that_fits_in_long_round_trips() -> None:
    values = np.array([0, 2**63 - 1], dtype=np.uint64)
    assert round_trip(Table({"x": values}))["x"].tolist() == values.tolist()


def test_uint64_too_big_for_long_is_refused() -> None:
    with pytest.raises(SampDataError, match="uint64"):
        to_bytes(Table({"x": np.array([2**63], dtype=np.uint64)}))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floats_round_trip_exactly_including_nan_and_infinities(dtype: Any) -> None:
    values = np.array([1.5, np.nan, -np.inf, np.inf, np.finfo(dtype).tiny, -0.0], dtype=dtype)
    result = round_trip(Table({"x": values}))["x"]
    assert result.dtype == dtype
    np.testing.assert_array_equal(np.ma.getdata(result), values)


def test_complex_columns_round_trip() -> None:
    values = np.array([1 + 2j, -3.5j, np.nan], dtype=np.complex128)
    result = round_trip(Table({"z": values, "z8": values.astype(np.complex64)}))
    np.testing.assert_array_equal(np.ma.getdata(result["z"]), values)
    np.testing.assert_array_equal(np.ma.getdata(result["z8"]), values.astype(np.complex64))


def test_masked_values_round_trip_for_ints_floats_and_bools() -> None:
    table = Table()
    table["i"] = MaskedColumn([1, 2, 3], dtype=np.int32, mask=[False, True, False])
    table["f"] = MaskedColumn([1.0, 2.0, 3.0], mask=[True, False, False])
    table["b"] = MaskedColumn([True, False, True], mask=[False, False, True])
    result = round_trip(table)
    for name in ("i", "f", "b"):
        assert result[name].mask.tolist() == table[name].mask.tolist(), name
        kept = ~table[name].mask
        assert result[name][kept].tolist() == table[name][kept].tolist(), name


def test_masked_string_is_flagged_null_and_reads_back_empty() -> None:
    # astropy's reader ignores null flags of strings, so the best it can return is "".
    table = Table({"s": MaskedColumn(["abc"], mask=[True])})
    xml = to_bytes(table)
    row = binary2_bytes(xml)
    assert row[0] & 0x80, "the first column's null flag (most significant bit) is set"
    assert row[1:] == b"\0\0\0", "the hidden value is not written"
    assert round_trip(table)["s"].tolist() == [""]


def test_null_flags_follow_column_order_most_significant_bit_first() -> None:
    columns = {f"c{i}": MaskedColumn([i], mask=[i in (0, 8)]) for i in range(9)}
    row = binary2_bytes(to_bytes(Table(columns)))
    assert row[:2] == bytes([0b10000000, 0b10000000])


def test_bool_columns_are_written_as_boolean_and_round_trip() -> None:
    table = Table({"b": [True, False, True]})
    xml = to_bytes(table)
    assert fields_of(xml)["b"]["datatype"] == "boolean"
    assert binary2_bytes(xml)[1::2] == b"TFT"
    assert round_trip(table)["b"].tolist() == [True, False, True]


def test_ascii_strings_are_written_as_char() -> None:
    table = Table({"s": ["a", "bb", ""]})
    assert fields_of(to_bytes(table))["s"] == {"datatype": "char", "arraysize": "2"}
    assert round_trip(table)["s"].tolist() == ["a", "bb", ""]


def test_non_ascii_strings_are_written_as_unicode_char_and_round_trip() -> None:
    values = ["Ångström", "naïve", "日本語", "", "z"]
    table = Table({"s": values})
    assert fields_of(to_bytes(table))["s"]["datatype"] == "unicodeChar"
    assert round_trip(table)["s"].tolist() == values


def test_bytes_columns_are_written_as_char() -> None:
    table = Table({"s": np.array([b"abc", b"", b"x"])})
    assert fields_of(to_bytes(table))["s"]["datatype"] == "char"
    assert round_trip(table)["s"].tolist() == ["abc", "", "x"]


def test_variable_length_strings_round_trip() -> None:
    values = np.array(["", "a", "ünïcode", "a much longer string than the others"], dtype=object)
    table = Table({"s": values, "t": np.array(["x", "yy", "", "zzz"], dtype=object)})
    xml = to_bytes(table)
    assert fields_of(xml)["s"] == {"datatype": "unicodeChar", "arraysize": "*"}
    assert fields_of(xml)["t"] == {"datatype": "char", "arraysize": "*"}
    result = round_trip(table)
    assert result["s"].tolist() == values.tolist()
    assert result["t"].tolist() == ["x", "yy", "", "zzz"]


def test_variable_length_numeric_arrays_round_trip() -> None:
    values = [np.array([1.0, 2.0]), np.array([], dtype=float), np.array([3.0, np.nan, 5.0])]
    table = Table({"v": np.array([*values, None], dtype=object)[:3]})
    result = round_trip(table)["v"]
    for got, want in zip(result, values, strict=True):
        np.testing.assert_array_equal(np.ma.getdata(got), want)


def test_object_column_of_only_empty_arrays_stays_numeric() -> None:
    table = Table({"v": np.array([np.array([]), np.array([]), None], dtype=object)[:2]})
    assert fields_of(to_bytes(table))["v"] == {"datatype": "double", "arraysize": "*"}
    assert [len(v) for v in round_trip(table)["v"]] == [0, 0]


def test_fixed_size_array_columns_round_trip() -> None:
    vectors = np.arange(12.0).reshape(4, 3)
    result = round_trip(Table({"v": vectors}))["v"]
    assert result.shape == (4, 3)
    np.testing.assert_array_equal(result, vectors)


def test_multidimensional_arrays_keep_their_shape() -> None:
    # astropy itself writes arraysize "2x3" here, which reads back as shape (3, 2)
    cubes = np.arange(24, dtype=np.int16).reshape(4, 2, 3)
    xml = to_bytes(Table({"m": cubes}))
    assert fields_of(xml)["m"]["arraysize"] == "3x2"
    result = Table.read(io.BytesIO(xml), format="votable")["m"]
    assert result.shape == (4, 2, 3)
    np.testing.assert_array_equal(result, cubes)


def test_masked_array_cells_are_null_and_partly_masked_cells_keep_values() -> None:
    data = np.arange(6.0).reshape(3, 2)
    column = MaskedColumn(data, mask=[[False, True], [True, True], [False, False]])
    result = round_trip(Table({"a": column}))["a"]
    assert result.mask.tolist() == [[False, True], [True, True], [False, False]]
    assert result[0, 0] == 0.0 and result[2].tolist() == [4.0, 5.0]


def test_column_metadata_survives() -> None:
    table = Table()
    table["ra"] = Column(
        [1.0, 2.0],
        unit="deg",
        description="Right ascension",
        meta={"ucd": "pos.eq.ra;meta.main", "utype": "stc:pos.ra"},
    )
    table["n"] = MaskedColumn(
        [1, -99], dtype=np.int32, mask=[False, True], meta={"values": {"null": -99}}
    )
    table.meta.update(ID="t1", name="my table")
    result = parse(io.BytesIO(to_bytes(table))).get_first_table()
    ra, n = result.fields
    assert (ra.name, str(ra.unit), ra.ucd) == ("ra", "deg", "pos.eq.ra;meta.main")
    assert (ra.utype, ra.description) == ("stc:pos.ra", "Right ascension")
    assert n.values.null == -99
    assert (result.ID, result.name) == ("t1", "my table")
    assert result.array["n"].mask.tolist() == [False, True]


def test_quantity_columns_keep_their_unit() -> None:
    table = QTable({"flux": [1.0, 2.5] * u.mJy})
    result = QTable.read(io.BytesIO(to_bytes(table)), format="votable")
    assert result["flux"].unit == u.mJy
    assert result["flux"].value.tolist() == [1.0, 2.5]


def test_votablefile_keeps_table_name_params_and_infos() -> None:
    votable = from_table(sample_table(3))
    element = votable.get_first_table()
    element.name = "results"
    element.params.append(Param(votable, name="radius", value=0.5, datatype="double", unit="deg"))
    votable.infos.append(Info(name="QUERY_STATUS", value="OK"))
    votable.resources[0].infos.append(Info(name="provider", value="minisamp tests"))
    result = parse(io.BytesIO(to_bytes(votable)))
    table = result.get_first_table()
    assert table.name == "results"
    assert [(p.name, p.value, str(p.unit)) for p in table.params] == [("radius", 0.5, "deg")]
    assert [(i.name, i.value) for i in result.infos] == [("QUERY_STATUS", "OK")]
    assert [(i.name, i.value) for i in result.resources[0].infos] == [
        ("provider", "minisamp tests")
    ]
    assert table.array["name"].tolist() == ["src0", "src1", "src2"]


def test_votablefile_round_trips_through_parse_and_write_unchanged() -> None:
    table = sample_table(50)
    table["v"] = np.array([np.arange(i % 4, dtype=float) for i in range(50)], dtype=object)
    table["o"] = np.array(["ü" * (i % 3) for i in range(50)], dtype=object)
    first = parse(io.BytesIO(to_bytes(table)))
    second = parse(io.BytesIO(to_bytes(first)))
    a, b = first.get_first_table().array, second.get_first_table().array
    assert b["o"].tolist() == table["o"].tolist()
    for name in ("id", "ra", "name", "dec"):
        assert a[name].tolist() == b[name].tolist()
    for x, y in zip(a["v"], b["v"], strict=True):
        np.testing.assert_array_equal(x, y)


def test_votablefile_is_not_modified_by_writing() -> None:
    votable = from_table(sample_table(3))
    before = votable.get_first_table().array.copy()
    to_bytes(votable)
    element = votable.get_first_table()
    assert "_write_binary" not in vars(element)
    assert element.array.tolist() == before.tolist()


def test_bit_fields_of_a_votablefile_read_true_in_astropy() -> None:
    votable = from_table(Table({"flag": [True, False, True]}))  # astropy makes "bit"
    assert votable.get_first_table().fields[0].datatype == "bit"
    xml = to_bytes(votable)
    assert binary2_bytes(xml)[1::2] == b"\x88\x00\x88"  # top bit (standard) and bit 3
    assert Table.read(io.BytesIO(xml), format="votable")["flag"].tolist() == [True, False, True]


def test_votable_version_1_2_is_written_by_astropy() -> None:
    votable = from_table(sample_table(3))
    votable.version = "1.2"
    xml = to_bytes(votable)
    assert b"BINARY2" not in xml
    assert Table.read(io.BytesIO(xml), format="votable")["id"].tolist() == [0, 1, 2]


def test_many_chunks_stream_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    table = sample_table(200)
    table["o"] = np.array(["é" * (i % 5) for i in range(200)], dtype=object)
    whole = round_trip(table)
    monkeypatch.setattr(votable_writer, "_CHUNK_BYTES", 7)  # rows split across base64 quanta
    chunked = round_trip(table)
    for name in table.colnames:
        assert chunked[name].tolist() == whole[name].tolist() == table[name].tolist()


def test_ordinary_tables_take_the_fast_binary2_path() -> None:
    # Speed is measured in bench/table_send.py; here: no silent fallback to astropy's writer.
    xml = to_bytes(sample_table(1000))
    assert b"<BINARY2>" in xml and b"<TABLEDATA>" not in xml


def test_empty_table_is_written_with_its_fields() -> None:
    xml = to_bytes(sample_table(0))
    assert list(fields_of(xml)) == ["id", "ra", "name", "dec"]
    assert len(Table.read(io.BytesIO(xml), format="votable")) == 0


def test_mixin_columns_are_refused_with_sampdataerror() -> None:
    from astropy.time import Time

    table = Table({"t": Time([60000.0, 60001.0], format="mjd")})
    with pytest.raises(SampDataError, match="mixin"):
        to_bytes(table)


def test_write_votable_accepts_paths_and_binary_files(tmp_path: Path) -> None:
    table = sample_table(3)
    tables.write_votable(table, tmp_path / "a.xml")
    tables.write_votable(table, str(tmp_path / "b.xml"))
    with open(tmp_path / "c.xml", "wb") as fh:
        tables.write_votable(table, fh)
        fh.write(b"<!-- the file stays open and usable -->\n")
    for name in ("a.xml", "b.xml", "c.xml"):
        assert Table.read(tmp_path / name, format="votable")["id"].tolist() == [0, 1, 2]


def test_write_votable_refuses_text_files_and_non_tables(tmp_path: Path) -> None:
    with open(tmp_path / "t.xml", "w") as fh, pytest.raises(SampDataError, match="binary"):
        tables.write_votable(sample_table(), fh)
    with pytest.raises(SampDataError, match="Table"):
        tables.write_votable({"a": [1]}, io.BytesIO())


# --- files, directories, URLs -----------------------------------------------------------


def test_prepared_file_is_private_mode_0600(tmp_path: Path) -> None:
    prepared = tables.prepare_table(sample_table(), tmp_path)
    assert stat.S_IMODE(prepared.path.stat().st_mode) == 0o600
    assert prepared.mtype == "table.load.votable"
    assert prepared.path == tmp_path / "table.xml"


def test_private_directory_is_0700_and_removed_with_its_files() -> None:
    with tables.private_directory() as directory:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        (directory / "left-over.xml").write_text("x")
    assert not directory.exists()


def test_url_names_a_path_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    directory = tmp_path / "my tables é 日本"
    directory.mkdir()
    prepared = tables.prepare_table(sample_table(), directory, basename="ça va")
    url = prepared.url
    assert url.startswith("file:///") and " " not in url and url.isascii()
    assert Path(urllib.request.url2pathname(urlparse(url).path)) == prepared.path
    assert Table.read(prepared.path, format="votable")["id"].tolist() == list(range(5))


def test_accessible_table_yields_a_readable_url_and_removes_the_file() -> None:
    with tables.accessible_table(sample_table()) as url:
        path = Path(urllib.request.url2pathname(urlparse(url).path))
        assert path.is_file()
        assert tables.read_table(url)["name"].tolist() == [f"src{i}" for i in range(5)]
    assert not path.exists()
    assert not path.parent.exists()


def test_accessible_table_removes_the_file_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), tables.accessible_table(sample_table()) as url:
        path = Path(urllib.request.url2pathname(urlparse(url).path))
        raise RuntimeError("boom")
    assert not path.exists()


@pytest.mark.parametrize("name", ["cat.xml", "cat.vot", "cat.votable", "cat.xml.gz"])
def test_existing_votable_path_is_sent_as_is(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    xml = to_bytes(sample_table())
    path.write_bytes(gzip.compress(xml) if name.endswith(".gz") else xml)
    with tables.private_directory() as directory:
        prepared = tables.prepare_table(str(path), directory)
        assert list(directory.iterdir()) == []  # no copy
    assert (prepared.path, prepared.url) == (path.resolve(), path.resolve().as_uri())
    assert prepared.mtype == "table.load.votable"
    assert not prepared.written
    assert path.exists()


@pytest.mark.parametrize("name", ["cat.fits", "cat.fit", "cat.fts", "cat.fits.gz"])
def test_existing_fits_path_is_sent_as_is_with_fits_mtype(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sample_table().write(path, format="fits")
    with tables.accessible_table(path) as url:
        assert url == path.resolve().as_uri()
        assert tables.read_table(url)["id"].tolist() == list(range(5))
    assert tables.prepare_table(path, tmp_path).mtype == "table.load.fits"
    assert path.exists()


def test_nonexistent_path_raises_sampdataerror_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(SampDataError, match=r"nope\.xml"):
        tables.prepare_table(missing, tmp_path)


def test_file_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(SampDataError, match="neither"):
        tables.prepare_table(path, tmp_path)


def test_other_objects_are_refused_saying_what_is_accepted(tmp_path: Path) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    with pytest.raises(SampDataError, match=r"VOTableFile.*path"):
        tables.prepare_table([1, 2, 3], directory)
    assert list(directory.iterdir()) == []


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SampDataError, match="format"):
        tables.prepare_table(sample_table(), tmp_path, format="csv")


def test_fits_format_writes_a_fits_binary_table(tmp_path: Path) -> None:
    prepared = tables.prepare_table(sample_table(), tmp_path, format="fits")
    assert prepared.mtype == "table.load.fits"
    assert prepared.path.suffix == ".fits"
    assert stat.S_IMODE(prepared.path.stat().st_mode) == 0o600
    with fits.open(prepared.path) as hdul:
        assert isinstance(hdul[1], fits.BinTableHDU)
    assert tables.read_table(prepared.url)["name"].tolist() == [f"src{i}" for i in range(5)]


def test_fits_format_accepts_a_votablefile(tmp_path: Path) -> None:
    prepared = tables.prepare_table(from_table(sample_table()), tmp_path, format="fits")
    assert Table.read(prepared.path)["id"].tolist() == list(range(5))


# --- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["file:{path}", "file://{path}", "file://localhost{path}"])
def test_read_table_understands_every_file_url_form(tmp_path: Path, form: str) -> None:
    path = tmp_path / "a table.xml"
    tables.write_votable(sample_table(), path)
    url = form.format(path=urllib.request.pathname2url(str(path)))
    assert tables.read_table(url)["id"].tolist() == list(range(5))


@pytest.fixture
def http_directory(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 by a thread, joined afterwards."""
    with serving_directory(tmp_path) as base:
        yield tmp_path, base


def test_read_table_over_http(http_directory: tuple[Path, str]) -> None:
    directory, base = http_directory
    tables.write_votable(sample_table(), directory / "t.xml")
    sample_table().write(directory / "t.fits", format="fits")
    assert tables.read_table(f"{base}/t.xml", timeout=10)["id"].tolist() == list(range(5))
    assert tables.read_table(f"{base}/t.fits", timeout=10)["id"].tolist() == list(range(5))


def test_read_table_http_error_is_a_transport_error(http_directory: tuple[Path, str]) -> None:
    _, base = http_directory
    with pytest.raises(TransportError, match="404"):
        tables.read_table(f"{base}/missing.xml", timeout=10)


def test_read_table_sniffs_content_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "looks-like.xml"
    sample_table().write(path, format="fits")
    assert tables.read_table(path.as_uri())["id"].tolist() == list(range(5))


def test_read_table_refuses_what_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("just text")
    with pytest.raises(PeerProtocolError):
        tables.read_table(path.as_uri())


def test_read_table_missing_file_is_a_transport_error(tmp_path: Path) -> None:
    with pytest.raises(TransportError):
        tables.read_table((tmp_path / "gone.xml").as_uri())


@pytest.mark.parametrize("url", ["file://elsewhere/tmp/x.xml", "ftp://example.org/x", "x.xml"])
def test_read_table_refuses_urls_it_cannot_read(url: str) -> None:
    with pytest.raises(SampDataError):
        tables.read_table(url)


def test_read_image_returns_the_hdulist(tmp_path: Path) -> None:
    path = tmp_path / "img.fits"
    fits.PrimaryHDU(np.arange(12.0).reshape(3, 4)).writeto(path)
    hdul = tables.read_image(path.as_uri())
    path.unlink()  # the sender may remove the file as soon as we have read it
    with hdul:
        np.testing.assert_array_equal(hdul[0].data, np.arange(12.0).reshape(3, 4))


def test_read_image_refuses_a_votable(tmp_path: Path) -> None:
    path = tmp_path / "t.xml"
    tables.write_votable(sample_table(), path)
    with pytest.raises(PeerProtocolError, match="not a FITS"):
        tables.read_image(path.as_uri())


# --- optional dependency ----------------------------------------------------------------


def test_missing_astropy_raises_missing_dependency_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    table = sample_table()
    existing = tmp_path / "t.xml"
    tables.write_votable(table, existing)
    for name in [m for m in sys.modules if m == "astropy" or m.startswith("astropy.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'minisamp\[tables\]'"):
        tables.prepare_table(table, tmp_path)
    with pytest.raises(MissingDependencyError):
        tables.read_table(existing.as_uri())
    with pytest.raises(MissingDependencyError):
        tables.write_votable(table, io.BytesIO())
    # an existing file needs no astropy: it is sent as it is
    assert tables.prepare_table(existing, tmp_path).mtype == "table.load.votable"


def test_importing_tables_loads_neither_astropy_nor_numpy() -> None:
    code = (
        "import sys, minisamp.tables, minisamp.tables.votable; "
        "print(sorted(m for m in ('astropy', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# --- interoperability with STIL (TOPCAT's table library), when installed ---------------


@pytest.mark.interop
@needs("stilts")
def test_stil_reads_our_votable_with_the_same_values(tmp_path: Path) -> None:
    table = sample_table(1000)
    table["s"] = MaskedColumn(
        ["é" * (i % 3) for i in range(1000)], mask=[i == 5 for i in range(1000)]
    )
    table["b"] = np.arange(1000) % 2 == 0
    table["v"] = np.arange(3000.0).reshape(1000, 3)
    path = tmp_path / "t.xml"
    tables.write_votable(table, path)
    env = dict(os.environ, JAVA_TOOL_OPTIONS="-Dfile.encoding=UTF-8")
    lint = subprocess.run(
        ["stilts", "votlint", str(path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout
    out = subprocess.run(
        ["stilts", "tpipe", f"in={path}", "ofmt=csv", "cmd=rowrange 5 7; keepcols 'id name s b v'"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.stdout.splitlines()[1:] == [
        '4,src4,é,true,"(12.0, 13.0, 14.0)"',
        '5,src5,,false,"(15.0, 16.0, 17.0)"',
        '6,src6,,true,"(18.0, 19.0, 20.0)"',
    ]
