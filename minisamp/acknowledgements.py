"""What the sending helpers wait for: each recipient's acknowledgement, in a :class:`Delivery`.

:func:`call_each` makes every (recipient, message) call through the hub's
``callAndWait``, in parallel, and :func:`report` applies the helpers' rule for
refusals: a targeted send or a broadcast nobody accepted raises
:class:`~minisamp.errors.SampResponseError` naming who refused and why; a broadcast
some accepted only warns.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import SampError, SAMPHubError, SampResponseError, SAMPWarning
from .messages import Message, Response
from .recipients import client_label

__all__ = ["Delivery", "call_each", "report"]


@dataclass
class Delivery:
    """Who got a message: ``accepted`` maps client id → result map, ``failed`` id → reason.

    ``url`` is the URL that was sent (for tables, the temporary file's); ``sent`` maps
    each recipient's id to the MType and URL it was sent (tables go in two formats)."""

    mtype: str
    url: str = ""
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    sent: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.accepted)


Delivery.__module__ = "minisamp.helpers"  # its documented home


def call_each(
    conn: Any,
    mtype: str,
    calls: list[tuple[str, Message]],
    recipient: str | None,
    timeout: float,
    strict: bool,
) -> Delivery:
    """Make each (recipient, message) call, in parallel; the answers in a :class:`Delivery`.

    With *strict*, refusals raise or warn by :func:`report`'s rule (*recipient* is the
    named recipient, None for a broadcast).
    """
    url = str(calls[0][1].params.get("url", "")) if calls else ""
    delivery = Delivery(mtype, url)
    delivery.sent.update((cid, (msg.mtype, str(msg.params.get("url", "")))) for cid, msg in calls)
    seconds = str(max(1, round(timeout)))

    def ask(call: tuple[str, Message]) -> None:
        client_id, msg = call
        try:
            response = Response.from_map(conn.call_and_wait(client_id, msg.to_map(), seconds))
        except SAMPHubError:
            raise  # the hub is gone: not a refusal by the recipient
        except SampError as exc:
            delivery.failed[client_id] = str(exc)
            return
        if response.is_ok:
            delivery.accepted[client_id] = dict(response.result or {})
        else:
            delivery.failed[client_id] = response.errortxt or response.status

    if len(calls) == 1:
        ask(calls[0])
    elif calls:
        with ThreadPoolExecutor(min(8, len(calls)), thread_name_prefix="minisamp-send") as pool:
            list(pool.map(ask, calls))
    if strict:
        report(conn, delivery, targeted=recipient is not None)
    return delivery


def report(conn: Any, delivery: Delivery, *, targeted: bool) -> None:
    if not delivery.failed:
        return
    reasons = "; ".join(f"{client_label(conn, cid)}: {why}" for cid, why in delivery.failed.items())
    if targeted or not delivery.accepted:
        raise SampResponseError(
            f"{delivery.mtype} was not accepted by {reasons}",
            responder_id=next(iter(delivery.failed)),
        )
    warnings.warn(
        f"some clients did not accept {delivery.mtype}: {reasons}", SAMPWarning, stacklevel=3
    )
