"""The desktop apps themselves on our hub: each registers, loads what we send, answers.

These are the smoke tests of ``tests/desktop.py``: if they pass, a test that needs
TOPCAT, Aladin or DS9 can rely on ``desktop(kind)`` giving it a usable app.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningHub
from desktop import DesktopApp

from minisamp.client import Client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _fits_image(path: Path) -> Path:
    """A 16×16 FITS image with a celestial WCS, written with the standard library only."""
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                   16",
        "NAXIS2  =                   16",
        "CTYPE1  = 'RA---TAN'",
        "CTYPE2  = 'DEC--TAN'",
        "CRVAL1  =                 10.0",
        "CRVAL2  =                 20.0",
        "CRPIX1  =                  8.0",
        "CRPIX2  =                  8.0",
        "CDELT1  =             -0.001",
        "CDELT2  =              0.001",
        "OBJECT  = 'minisamp test'",
        "END",
    ]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode("ascii")
    data = bytes(range(256)).ljust(2880, b"\0")
    path.write_bytes(header + data)
    return path


@pytest.mark.parametrize("kind", ["topcat", "aladin", "ds9"])
def test_app_loads_an_image_or_table_we_send(
    kind: str,
    samp_hub_factory: Callable[[str], RunningHub],
    desktop: Callable[..., DesktopApp],
    tmp_path: Path,
) -> None:
    hub = samp_hub_factory("minisamp")
    image = _fits_image(tmp_path / "image.fits")
    mtype = "table.load.votable" if kind == "topcat" else "image.load.fits"
    app = desktop(kind, ready_mtype=mtype)
    with Client("desktop smoke", lockfile=hub.lock_url) as client:
        if kind == "topcat":
            votable = tmp_path / "t.xml"
            votable.write_text(
                '<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE><TABLE>'
                '<FIELD name="x" datatype="int"/><DATA><TABLEDATA>'
                "<TR><TD>1</TD></TR><TR><TD>2</TD></TR></TABLEDATA></DATA></TABLE>"
                "</RESOURCE></VOTABLE>"
            )
            params = {"url": votable.as_uri(), "table-id": "smoke", "name": "smoke"}
        else:
            params = {"url": image.as_uri(), "image-id": "smoke", "name": "smoke"}
        message = {"samp.mtype": mtype, "samp.params": params}
        response = client.call_and_wait(app.client_id, message, 60)
    assert response["samp.status"] == "samp.ok", response
