"""Ask DS9 to load a FITS image from a URL (or a local file)::

python examples/send_image_to_ds9.py --demo-hub
python examples/send_image_to_ds9.py /path/to/image.fits
"""

import contextlib
import sys
from pathlib import Path

import minisamp as samp
from minisamp.demo import stand_in_hub

args = [a for a in sys.argv[1:] if not a.startswith("--")]
url = Path(args[0]).resolve().as_uri() if args else "https://example.org/images/m31.fits"

hub = stand_in_hub("SAOImageDS9") if "--demo-hub" in sys.argv else contextlib.nullcontext()
with hub, samp.connection(client_name="image sender") as conn:
    sent = samp.send_image_to(conn, url, client_name="SAOImageDS9", name="M31")
    print("image.load.fits sent to", ", ".join(samp.client_label(conn, c) for c in sent))
