"""The FITS-plus writer: what STILTS and astropy read back is what the VOTable path gives.

Every column kind the VOTable writer handles is written both ways, then read back by
STILTS (STIL, the library inside TOPCAT: column metadata, parameters, every value) and
by astropy (``read_table``, as a minisamp receiver gets it), and compared.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy", reason="tables need numpy")
astropy_table = pytest.importorskip("astropy.table", reason="tables need astropy")

from astropy.io import fits  # noqa: E402
from astropy.io.votable import parse  # noqa: E402
from astropy.io.votable.tree import Info, Param  # noqa: E402

from minisamp import tables  # noqa: E402
from minisamp.tables import fitsplus  # noqa: E402
from minisamp.tables.fits import lossless, write_fits  # noqa: E402

pytestmark = pytest.mark.timeout(120)
Table, MaskedColumn = astropy_table.Table, astropy_table.MaskedColumn


def every_kind(n: int = 7) -> Any:
    """One column of each kind the VOTable writer handles, with masks and metadata."""
    rows = np.arange(n)
    t = Table(meta={"description": "every column kind"})
    t["id"] = np.arange(n, dtype=np.int64) + 2**60 + 1  # > 2**53: exact only as int64
    t["ra"] = np.linspace(0.0, 359.5, n)
    t["ra"].unit, t["ra"].description = "deg", "Right ascension (ICRS)"
    t["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    t["mag"] = np.linspace(10, 20, n).astype(np.float32)
    t["name"] = np.char.add("src", rows.astype(str))
    t["flag"] = rows % 2 == 0
    t["mi"] = MaskedColumn(rows.astype(np.int32), mask=rows % 3 == 0)
    t["mi"][1] = np.iinfo(np.int32).min  # the obvious null marker is taken
    t["mf"] = MaskedColumn(rows * 1.5, mask=rows % 2 == 0)
    t["mb"] = MaskedColumn(rows % 2 == 1, mask=rows % 4 == 0)
    t["ms"] = MaskedColumn([f"s{i}" for i in rows], mask=rows == 2)
    t["vec"] = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    t["mat"] = np.arange(n * 6, dtype=np.int16).reshape(n, 2, 3)
    t["i8"] = rows.astype(np.int8)
    t["u1"] = rows.astype(np.uint8)
    t["u4"] = rows.astype(np.uint32) + 4_000_000_000
    t["bvec"] = np.arange(n * 2).reshape(n, 2) % 3 == 0
    t["var"] = np.array([np.arange(i % 4, dtype=np.float32) for i in rows], dtype=object)
    t["var"][3] = np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False], dtype=np.float32)
    t["vs"] = np.array(["x" * (i % 5) for i in rows], dtype=object)
    return t


def write_both(table: Any, directory: Path) -> tuple[Path, Path]:
    xml, fits_path = directory / "t.xml", directory / "t.fits"
    tables.write_votable(table, xml)
    with open(fits_path, "wb") as fh:
        write_fits(table, fh)
    return xml, fits_path


def with_params(table: Any) -> Any:
    """*table* as a VOTableFile carrying PARAMs and INFOs (what pyvo's results are)."""
    buffer = io.BytesIO()
    tables.write_votable(table, buffer)
    buffer.seek(0)
    votable = parse(buffer)
    element = votable.get_first_table()
    element.params.append(
        Param(votable, name="epoch", datatype="double", value="2000.0", unit="yr", ucd="time.epoch")
    )
    element.infos.append(Info(name="QUERY_STATUS", value="OK"))
    votable.resources[0].infos.append(Info(name="server", value="Ünïcode service"))
    return votable


# --- the layout ---------------------------------------------------------------------------


def test_primary_header_is_exactly_what_stil_recognises(tmp_path: Path) -> None:
    _, path = write_both(every_kind(), tmp_path)
    head = path.read_bytes()[:2880]
    cards = [head[i : i + 80].decode("ascii") for i in range(0, 480, 80)]
    assert [c[:8].rstrip() for c in cards] == [
        "SIMPLE",
        "BITPIX",
        "NAXIS",
        "NAXIS1",
        "VOTMETA",
        "EXTEND",
    ]
    assert [c[10:30].strip() for c in cards if not c.startswith("NAXIS1")] == [
        "T",
        "8",
        "1",
        "T",
        "T",
    ]
    assert fitsplus.is_fitsplus(head)
    with fits.open(path) as hdul:
        document = bytes(hdul[0].data)
        assert b"<DATA" not in document and b"<FIELD" in document
        assert isinstance(hdul[1], fits.BinTableHDU) and hdul[1].header["NAXIS2"] == 7
    assert path.stat().st_size % 2880 == 0


def test_integer_null_marker_is_a_value_no_unmasked_cell_holds(tmp_path: Path) -> None:
    table = every_kind()
    _, path = write_both(table, tmp_path)
    with fits.open(path) as hdul:
        column = hdul[1].columns["mi"]
        raw = np.asarray(hdul[1].data["mi"])
    unmasked = np.asarray(table["mi"])[~table["mi"].mask]
    assert column.null is not None and column.null not in unmasked
    assert (raw == column.null).tolist() == table["mi"].mask.tolist()


def test_tables_fits_loses_something_for_are_not_lossless() -> None:
    assert lossless(every_kind())
    assert not lossless(Table({"name": ["Bételgeuse", "Vega"]}))
    assert not lossless(Table({"naïve": [1, 2]}))


def test_fits_is_worthwhile_only_for_large_lossless_tables() -> None:
    rows = tables.FITS_MIN_BYTES // 16 + 1
    big = Table({"a": np.zeros(rows), "b": np.zeros(rows)})
    assert tables.fits_worthwhile(big)
    assert not tables.fits_worthwhile(big[: rows // 2])
    texts = np.full(rows, "Bételgeuse")
    assert not tables.fits_worthwhile(Table({"a": np.zeros(rows), "t": texts}))
    assert not tables.fits_worthwhile("/some/file.fits")


# --- astropy reads back what the VOTable path gives ------------------------------------


def assert_same_tables(got: Any, expected: Any) -> None:
    assert got.colnames == expected.colnames
    assert got.meta == expected.meta
    for name in expected.colnames:
        a, b = got[name], expected[name]
        assert (a.unit, a.description, a.meta) == (b.unit, b.description, b.meta), name
        assert a.dtype == b.dtype and a.shape == b.shape, name
        mask_a, mask_b = np.ma.getmaskarray(a), np.ma.getmaskarray(b)
        if a.dtype != object:
            assert mask_a.tolist() == mask_b.tolist(), name
        for x, y, m in zip(a, b, mask_b, strict=True):
            if a.dtype == object:
                x, y = np.asarray(np.ma.filled(x, np.nan)), np.asarray(np.ma.filled(y, np.nan))
                assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"), name
            elif not np.all(m):
                assert np.array_equal(np.ma.getdata(x), np.ma.getdata(y)), name


@pytest.mark.parametrize("votablefile", [False, True], ids=["Table", "VOTableFile"])
def test_astropy_reads_back_every_value_and_metadata(tmp_path: Path, votablefile: bool) -> None:
    table = every_kind()
    table["unicode"] = ["Bételgeuse", "Ἀλδεβαράν", "", "x", "天狼星", "ok", "é"]
    source = with_params(table) if votablefile else table
    xml, path = write_both(source, tmp_path)
    got = tables.read_table(path.as_uri())
    expected = tables.read_table(xml.as_uri())
    assert_same_tables(got, expected)
    assert got["id"][0] == 2**60 + 1
    assert list(got["unicode"]) == list(table["unicode"])
    if votablefile:
        assert {
            p.name for p in parse(io.BytesIO(bytes(fits.getdata(path, 0)))).get_first_table().params
        } == {"epoch"}


# --- STILTS (STIL, as in TOPCAT) reads back what the VOTable path gives ----------------


def stilts(*args: str) -> str:
    done = subprocess.run(["stilts", *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


@pytest.fixture
def require_stilts() -> None:
    if shutil.which("stilts") is None:
        pytest.skip("STILTS is not installed: apt-get install stilts")


def column_metadata(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(stilts("tpipe", f"in={path}", "cmd=meta", "ofmt=csv"))))
    return [{k: v for k, v in row.items() if k != "ElSize"} for row in rows]


def parameters(path: Path) -> str:
    text = stilts("tpipe", f"in={path}", "omode=meta")
    return text.split("Parameters", 1)[-1] if "Parameters" in text else ""


@pytest.mark.parametrize("votablefile", [False, True], ids=["Table", "VOTableFile"])
def test_stilts_reads_the_same_metadata_and_values_as_from_the_votable(
    require_stilts: None, tmp_path: Path, votablefile: bool
) -> None:
    source = with_params(every_kind()) if votablefile else every_kind()
    xml, path = write_both(source, tmp_path)
    meta = column_metadata(path)
    assert meta == column_metadata(xml)
    ra = next(row for row in meta if row["Name"] == "ra")
    assert (ra["UCD"], ra["Units"], ra["Description"]) == (
        "pos.eq.ra;meta.main",
        "deg",
        "Right ascension (ICRS)",
    )
    assert {row["Name"]: row["Class"] for row in meta}["id"] == "Long"
    assert parameters(path) == parameters(xml)
    if votablefile:
        assert "epoch" in parameters(path) and "Ünïcode service" in parameters(path)
    values = stilts("tpipe", f"in={path}", "ofmt=csv")
    assert values == stilts("tpipe", f"in={xml}", "ofmt=csv")
    assert "1152921504606846977" in values  # 2**60 + 1, exact


def test_stilts_plain_fits_reader_gets_units_ucds_and_descriptions(
    require_stilts: None, tmp_path: Path
) -> None:
    """What TOPCAT's table.load.fits (STIL's plain FITS reader) sees: the BINTABLE alone."""
    _, path = write_both(every_kind(), tmp_path)
    out = stilts("tpipe", "ifmt=fits", f"in={path}", "cmd=meta", "ofmt=csv")
    ra = next(row for row in csv.DictReader(io.StringIO(out)) if row["Name"] == "ra")
    assert (ra["UCD"], ra["Units"], ra["Description"]) == (
        "pos.eq.ra;meta.main",
        "deg",
        "Right ascension (ICRS)",
    )


def test_writing_holds_no_second_copy_of_the_table(tmp_path: Path) -> None:
    """Rows are packed a few MB at a time: the peak stays far below the table's size."""
    import tracemalloc

    rows = 1_000_000
    table = Table({"a": np.zeros(rows), "b": np.ones(rows), "c": np.arange(rows)})
    size = sum(table[name].nbytes for name in table.colnames)  # 24 MB
    tracemalloc.start()
    try:
        with open(tmp_path / "big.fits", "wb") as fh:
            write_fits(table, fh)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 2, f"peak {peak / 1e6:.1f} MB while writing a {size / 1e6:.0f} MB table"
