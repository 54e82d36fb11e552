"""JSAMP's tools as Web Profile clients of our hub (``SAMP_HUB=web-appname:<name>``).

JSAMP's ``WebClientProfile`` has no setting for the hub's port: it always calls
``"http://" + SampUtils.getLocalhost() + ":21012/"``, and ``getLocalhost()`` returns
the ``jsamp.localhost`` system property verbatim.  So
``-Djsamp.localhost=127.0.0.1:<port>/#`` makes that URL
``http://127.0.0.1:<port>/#:21012/``, whose fragment is never sent: JSAMP then talks
to our hub on a free port, and these tests never need 21012 to be free.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import needs
from samp_raw import RawClient

from minisamp.hub import Hub
from minisamp.hub.web.profile import WebRegistrationRequest

JSAMP_JAR = Path("/usr/share/java/jsamp.jar")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(150),  # the JSAMP web client is stopped at 120 s
    needs("java"),
    pytest.mark.skipif(
        not JSAMP_JAR.exists(), reason=f"{JSAMP_JAR} is missing (apt-get install jsamp)"
    ),
]


@pytest.fixture
def consents() -> list[WebRegistrationRequest]:
    return []


@pytest.fixture
def hub(tmp_path: Path, consents: list[WebRegistrationRequest]) -> Iterator[Hub]:
    def consent(request: WebRegistrationRequest) -> bool:
        consents.append(request)
        return True

    with Hub(tmp_path / "lockfile", web_profile=True, web_port=0, web_consent=consent) as running:
        yield running


@pytest.fixture
def std(hub: Hub) -> Iterator[RawClient]:
    """A Standard Profile client named "Std Receiver" that echoes what it is called with."""
    client = RawClient(
        hub,
        subscriptions={"table.load.votable": {}, "x.private.test": {}, "samp.hub.event.*": {}},
    )
    client.hub("declareMetadata", {"samp.name": "Std Receiver"})
    yield client
    client.close()


def jsamp_command(hub: Hub, tmp_path: Path, *args: str) -> list[str]:
    assert hub.web_url is not None
    port = hub.web_url.split(":")[2].rstrip("/")
    return [
        "java",
        f"-Djsamp.localhost=127.0.0.1:{port}/#",  # see the module docstring
        f"-Duser.home={tmp_path}",
        "-cp",
        str(JSAMP_JAR),
        "org.astrogrid.samp.JSamp",
        *args,
    ]


def jsamp_env(app_name: str) -> dict[str, str]:
    return {**os.environ, "SAMP_HUB": f"web-appname:{app_name}"}


def messagesender(hub: Hub, tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        jsamp_command(hub, tmp_path, "messagesender", *args),
        env=jsamp_env("JSAMP Sender"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_messagesender_pings_the_hub_through_the_web_profile(
    hub: Hub, tmp_path: Path, consents: list[WebRegistrationRequest]
) -> None:
    output = messagesender(
        hub, tmp_path, "-mtype", "samp.app.ping", "-targetname", "Hub", "-mode", "sync"
    )
    assert '"samp.status": "samp.ok"' in output
    assert [request.name for request in consents] == ["JSAMP Sender"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_jsamp_web_client_calls_a_standard_client(
    hub: Hub, std: RawClient, tmp_path: Path, mode: str
) -> None:
    url = (tmp_path / "t.vot").as_uri()
    output = messagesender(
        hub,
        tmp_path,
        "-mtype",
        "table.load.votable",
        "-param",
        "url",
        url,
        "-targetname",
        "Std Receiver",
        "-mode",
        mode,  # async: the response comes back through pullCallbacks
    )
    message = std.next_of("receiveCall", "table.load.votable")[2]
    assert message["samp.params"] == {"url": url}
    assert '"samp.status": "samp.ok"' in output
    assert url in output


def test_jsamp_web_client_cannot_send_unsafe_mtypes(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    output = messagesender(
        hub, tmp_path, "-mtype", "x.private.test", "-targetname", "Std Receiver", "-mode", "sync"
    )
    assert "x.private.test is blocked for Web Profile clients" in output
    assert all(method != "samp.client.receiveCall" for method, _ in list(std.received.queue))


def wait_for_subscriber_named(std: RawClient, name: str, timeout: float = 60) -> str:
    """The id of the client named *name*, once it has declared subscriptions (hub events)."""
    deadline = time.monotonic() + timeout
    named: set[str] = set()
    subscribed: set[str] = set()
    while not named & subscribed:
        args = std.next_of("receiveNotification", timeout=deadline - time.monotonic())
        mtype, params = args[1]["samp.mtype"], args[1]["samp.params"]
        if mtype == "samp.hub.event.metadata" and params["metadata"].get("samp.name") == name:
            named.add(params["id"])
        elif mtype == "samp.hub.event.subscriptions" and params["subscriptions"]:
            subscribed.add(params["id"])
    return str((named & subscribed).pop())


def test_standard_client_calls_a_jsamp_web_client(hub: Hub, std: RawClient, tmp_path: Path) -> None:
    snooper = subprocess.Popen(
        jsamp_command(hub, tmp_path, "snooper", "-clientname", "Web Snooper"),
        env=jsamp_env("JSAMP Snooper"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        snooper_id = wait_for_subscriber_named(std, "Web Snooper")
        message = {"samp.mtype": "x.private.test", "samp.params": {"word": "hello"}}
        std.hub("call", snooper_id, "to-web", message)
        responder, tag, response = std.next_of("receiveResponse", timeout=30)
    finally:
        snooper.terminate()
        output, _ = snooper.communicate(timeout=30)
    assert (responder, tag) == (snooper_id, "to-web")
    assert response["samp.status"] == "samp.warning"  # "Message logged, not acted on"
    assert "x.private.test" in output and "hello" in output
