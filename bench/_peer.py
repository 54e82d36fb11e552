"""The far end of a measurement, in its own process, until SIGTERM: ``python -m bench._peer``.

    python -m bench._peer ping minisamp READY     # a minisamp client answering samp.app.ping
    python -m bench._peer ping pyvo READY         # a pyvo.samp client answering samp.app.ping
    python -m bench._peer tables READY            # a client acknowledging table.load.*
    python -m bench._peer stdlib READY            # a bare stdlib SimpleXMLRPCServer: ping()

SAMP peers register with the hub named by ``SAMP_HUB`` and bind 127.0.0.1.  When ready,
the peer writes its public id (SAMP) or port (stdlib) to the file *READY* (atomically:
a temporary file renamed), which the benchmark waits for.  Like ``_hub_runner``, it
stops on SIGTERM or SIGINT, when its parent goes away, or after ``--max-seconds``
(one rule for both: :mod:`bench._release`).

Both libraries answer ``samp.app.ping`` themselves; the table receiver replies
``samp.ok`` at once without reading the file (it measures the sender, not a reader).
Only the stdlib, the chosen library and the stdlib-only ``bench._release`` are imported
here (not bench's other helpers), so a peer starts fast and shares nothing with the
process measuring it.
"""

from __future__ import annotations

import argparse
import threading
import xmlrpc.server
from collections.abc import Callable
from pathlib import Path

from bench._release import Release, add_max_seconds

#: ``samp.name`` of the table receiver: senders address it by this name.
TABLE_RECEIVER = "bench-table-receiver"

Stop = Callable[[], None]


def start_ping(impl: str) -> tuple[str, Stop]:
    """A registered, callable client of *impl* ("minisamp" or "pyvo"); (its id, stop)."""
    if impl == "minisamp":
        import minisamp

        client = minisamp.Client(f"bench-ping-{impl}")
        client.connect()
        return client.get_public_id(), client.close
    from pyvo.samp import SAMPIntegratedClient, conf

    conf.use_internet = False
    pyvo_client = SAMPIntegratedClient(f"bench-ping-{impl}", addr="127.0.0.1")
    pyvo_client.connect()
    public_id: str = pyvo_client.get_public_id()
    return public_id, pyvo_client.disconnect


def start_tables() -> tuple[str, Stop]:
    """A minisamp client that acknowledges every table.load.* call unread; (its id, stop)."""
    import minisamp

    client = minisamp.Client(TABLE_RECEIVER)
    client.on("table.load.*", lambda message: {}, notifications=False)
    client.connect()
    return client.get_public_id(), client.close


def start_stdlib() -> tuple[str, Stop]:
    """A stdlib ``SimpleXMLRPCServer`` on 127.0.0.1 with ``ping() -> ""``; (its port, stop)."""
    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
    server.register_function(lambda: "", "ping")
    thread = threading.Thread(target=server.serve_forever, name="bench-stdlib", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return str(server.server_address[1]), stop


def _write_ready(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Start the peer, announce it, wait for a reason to stop, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["ping", "tables", "stdlib"])
    parser.add_argument("args", nargs="+", help="[minisamp|pyvo] READY (see above)")
    add_max_seconds(parser)
    options = parser.parse_args(argv)
    *impl, ready = options.args
    if options.role == "ping" and impl not in (["minisamp"], ["pyvo"]):
        parser.error("ping takes minisamp or pyvo, then READY")
    if options.role != "ping" and impl:
        parser.error(f"{options.role} takes READY only")

    release = Release()
    starters: dict[str, Callable[[], tuple[str, Stop]]] = {
        "ping": lambda: start_ping(impl[0]),
        "tables": start_tables,
        "stdlib": start_stdlib,
    }
    announced, stop = starters[options.role]()
    try:
        _write_ready(Path(ready), announced)
        release.wait(options.max_seconds)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
