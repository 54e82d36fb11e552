"""Point every sky viewer (Aladin, DS9, TOPCAT's sky plots) at a position::

python examples/point_at_sky.py --demo-hub
python examples/point_at_sky.py 83.82 -5.39
"""

import contextlib
import sys

import minisamp as samp
from minisamp.demo import stand_in_hub

args = [float(a) for a in sys.argv[1:] if not a.startswith("--")]
ra, dec = args if len(args) == 2 else (10.684, 41.269)  # M31

hub = stand_in_hub("Aladin") if "--demo-hub" in sys.argv else contextlib.nullcontext()
with hub, samp.connection(client_name="pointer") as conn:
    sent = samp.point_at(conn, ra, dec)  # broadcast coord.pointAt.sky
    print(f"pointed {len(sent)} client(s) at ra={ra} dec={dec}")
