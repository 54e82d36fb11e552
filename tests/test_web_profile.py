"""The hub's Web Profile: registration and consent, pull callbacks, routing, CORS,
MType restrictions and the URL translator, driven with raw HTTP as a page would."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import select
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from httputil import serving_directory
from samp_raw import RawClient

from minisamp.errors import SAMPHubError, SAMPProxyError
from minisamp.hub import Hub
from minisamp.hub.web import plain_http
from minisamp.hub.web.pages import CallbackQueue
from minisamp.hub.web.profile import (
    MTypeRestriction,
    WebRegistrationRequest,
    consent_policy,
    is_local_address,
    prompt_consent,
)
from minisamp.xmlrpc.codec import dump_request, parse_response
from minisamp.xmlrpc.transport import XmlRpcProxy

ORIGIN = "http://apps.example.org"


def allow_all(request: WebRegistrationRequest) -> bool:
    return True


class Reply:
    """An HTTP answer: status, headers, body."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()


def http_request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path, body, headers or {})
        return Reply(conn.getresponse())
    finally:
        conn.close()


def webcall(hub: Hub, method: str, *params: Any, origin: str | None = ORIGIN) -> Any:
    """Call ``samp.webhub.<method>`` as a page from *origin* would."""
    headers = {"Content-Type": "text/xml"}
    if origin is not None:
        headers["Origin"] = origin
    assert hub.web_url is not None
    reply = http_request(
        hub.web_url, "POST", dump_request(f"samp.webhub.{method}", params), headers
    )
    assert reply.status == 200, reply.body
    return parse_response(reply.body)


class Page:
    """A registered Web Profile client, as a page's JavaScript would drive it."""

    def __init__(self, hub: Hub, name: str = "Page", *, callable: bool = True) -> None:
        self.hub_ = hub
        reg = webcall(hub, "register", {"samp.name": name})
        self.key = reg["samp.private-key"]
        self.id = reg["samp.self-id"]
        self.translator = reg["samp.url-translator"]
        if callable:
            self.hub("allowReverseCallbacks", "1")

    def hub(self, method: str, *args: Any) -> Any:
        return webcall(self.hub_, method, self.key, *args)

    def pull(self, timeout: int = 5) -> list[dict[str, Any]]:
        return self.hub("pullCallbacks", str(timeout))  # type: ignore[no-any-return]

    def next_of(self, method: str, timeout: float = 10) -> list[Any]:
        """The params of the next callback *method* (skipping others)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for callback in self.pull(2):
                if callback["samp.methodName"] == method:
                    return callback["samp.params"]  # type: ignore[no-any-return]
        raise AssertionError(f"no {method} within {timeout} s")

    def translate(self, url: str) -> Reply:
        return http_request(self.translator + urllib.parse.quote(url, safe=""))

    def pull_in_background(self, timeout: int) -> tuple[threading.Thread, list[Any]]:
        """Start ``pullCallbacks(timeout)`` on a thread; return once the hub holds it waiting."""
        got: list[Any] = []
        puller = threading.Thread(target=lambda: got.append(self.pull(timeout)), name="test-pull")
        puller.start()
        web = self.hub_._web
        assert web is not None
        page = web.page_by_key(self.key)
        assert page is not None and page.queue is not None
        deadline = time.monotonic() + 30
        while page.queue.idle_for() != 0.0:  # 0.0 only while a pull waits on the queue
            assert puller.is_alive() and time.monotonic() < deadline, "the pull never waited"
            time.sleep(0.01)  # polling the queue's state: it signals nothing
        return puller, got


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with Hub(tmp_path / "lockfile", web_profile=True, web_port=0, web_consent=allow_all) as h:
        yield h


@pytest.fixture
def std(hub: Hub) -> Iterator[RawClient]:
    client = RawClient(hub, subscriptions={"*": {}})
    yield client
    client.close()


def votable_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.vot"
    path.write_text("<VOTABLE><RESOURCE><TABLE/></RESOURCE></VOTABLE>")
    return path


# -- switching on, consent ------------------------------------------------------------


def test_web_profile_is_off_by_default(tmp_path: Path) -> None:
    with Hub(tmp_path / "lockfile") as hub:
        assert hub.web_url is None


def test_busy_web_port_is_a_clear_hub_error(hub: Hub, tmp_path: Path) -> None:
    assert hub.web_url is not None
    port = urllib.parse.urlsplit(hub.web_url).port
    assert port is not None
    with pytest.raises(SAMPHubError, match=f"Web Profile on port {port}"):
        Hub(tmp_path / "other", web_profile=True, web_port=port).start()
    assert not (tmp_path / "other").exists()


def test_registration_without_consent_hook_is_refused(tmp_path: Path) -> None:
    with Hub(tmp_path / "lockfile", web_profile=True, web_port=0) as hub:
        with pytest.raises(SAMPProxyError, match="refused"):
            webcall(hub, "register", {"samp.name": "Page"})
        assert RawClient(hub, callable=False).hub("getRegisteredClients") == ["hub"]


def test_consent_hook_sees_claimed_name_origin_and_referer(tmp_path: Path) -> None:
    seen: list[WebRegistrationRequest] = []

    def only_our_site(request: WebRegistrationRequest) -> bool:
        seen.append(request)
        return request.origin == "http://127.0.0.1:8000"

    with Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=only_our_site) as hub:
        with pytest.raises(SAMPProxyError, match="'Evil' refused"):
            webcall(hub, "register", {"samp.name": "Evil"}, origin="http://evil.example")
        reg = webcall(hub, "register", {"samp.name": "Good"}, origin="http://127.0.0.1:8000")
    assert reg["samp.self-id"]
    assert [(r.name, r.origin, r.address) for r in seen] == [
        ("Evil", "http://evil.example", "127.0.0.1"),
        ("Good", "http://127.0.0.1:8000", "127.0.0.1"),
    ]


def test_failing_consent_hook_refuses(tmp_path: Path) -> None:
    def broken(request: WebRegistrationRequest) -> bool:
        raise RuntimeError("dialog crashed")

    with Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=broken) as hub:
        with pytest.raises(SAMPProxyError, match="refused"):
            webcall(hub, "register", {"samp.name": "Page"})
        client = RawClient(hub, callable=False)
        assert client.hub("getRegisteredClients") == ["hub"]  # nothing half-registered
        client.close()


def test_slow_consent_answers_each_page_for_its_own_origin(tmp_path: Path) -> None:
    """Two tabs register at once; the user answers the second first: each gets its own answer."""
    trusted, other = "http://trusted.example", "http://other.example"
    asked: dict[str | None, threading.Event] = {
        trusted: threading.Event(),
        other: threading.Event(),
    }
    other_answered = threading.Event()

    def slow_user(request: WebRegistrationRequest) -> bool:
        asked[request.origin].set()
        if request.origin == trusted:
            return other_answered.wait(30)  # still thinking while the other tab is refused
        return False

    with Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=slow_user) as hub:
        result: list[Any] = []
        registering = threading.Thread(
            target=lambda: result.append(
                webcall(hub, "register", {"samp.name": "Trusted"}, origin=trusted)
            ),
            name="test-register",
        )
        registering.start()
        assert asked[trusted].wait(30)
        with pytest.raises(SAMPProxyError, match="'Other' refused"):
            webcall(hub, "register", {"samp.name": "Other"}, origin=other)
        other_answered.set()
        registering.join(30)
        assert result, "the trusted page was not registered"
        client = RawClient(hub, callable=False)
        others = client.hub("getRegisteredClients")
        client.close()
    assert sorted(others) == sorted(["hub", result[0]["samp.self-id"]])


def test_pending_consent_does_not_block_standard_clients(tmp_path: Path) -> None:
    asked, answer = threading.Event(), threading.Event()

    def slow_user(request: WebRegistrationRequest) -> bool:
        asked.set()
        return answer.wait(30)

    with Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=slow_user) as hub:
        result: list[Any] = []
        registering = threading.Thread(
            target=lambda: result.append(webcall(hub, "register", {"samp.name": "Page"}))
        )
        registering.start()
        assert asked.wait(10)
        client = RawClient(hub, subscriptions={"samp.app.ping": {}})  # served meanwhile
        assert client.hub("getRegisteredClients") == ["hub"]
        assert webcall(hub, "ping") == ""
        answer.set()
        registering.join(10)
        client.close()
    assert result and result[0]["samp.self-id"]


def test_hub_stops_while_a_consent_dialog_is_open_and_the_page_is_refused(
    tmp_path: Path,
) -> None:
    asked, answer = threading.Event(), threading.Event()

    def away_user(request: WebRegistrationRequest) -> bool:
        asked.set()
        return answer.wait(60)  # the user comes back and says yes, after the hub stopped

    hub = Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=away_user).start()
    outcome: list[Any] = []

    def register() -> None:
        try:
            outcome.append(webcall(hub, "register", {"samp.name": "Late"}))
        except Exception as exc:  # the refusal, or the connection cut as the hub stops
            outcome.append(exc)

    registering = threading.Thread(target=register, name="test-register")
    registering.start()
    try:
        assert asked.wait(30)
        stopper = threading.Thread(target=hub.stop, name="test-stop")
        stopper.start()
        stopper.join(30)  # the stop does not wait for the user
        assert not stopper.is_alive(), "the hub waited for the consent dialog to stop"
    finally:
        answer.set()
        registering.join(30)
    assert outcome and not isinstance(outcome[0], dict), "a page registered on a stopped hub"


def test_reg_info_names_a_url_translator_for_the_key(hub: Hub) -> None:
    reg = webcall(hub, "register", {"samp.name": "Page"})
    key = reg["samp.private-key"]
    assert reg["samp.hub-id"] == "hub"
    assert reg["samp.url-translator"] == f"{hub.web_url}translator/{key}?"


def test_deprecated_bare_name_registration_is_accepted(hub: Hub) -> None:
    reg = webcall(hub, "register", "Old Page")
    assert reg["samp.private-key"]


def test_registration_needs_a_name(hub: Hub) -> None:
    with pytest.raises(SAMPProxyError, match=r"samp\.name"):
        webcall(hub, "register", {"samp.description.text": "anonymous"})


def test_web_keys_do_not_work_on_the_standard_endpoint(hub: Hub) -> None:
    page = Page(hub)
    with pytest.raises(SAMPProxyError, match="Web Profile"):
        XmlRpcProxy(hub.url).call("samp.hub.setXmlrpcCallback", page.key, "http://127.0.0.1:9/")


def test_unknown_key_faults(hub: Hub) -> None:
    with pytest.raises(SAMPProxyError, match="register again"):
        webcall(hub, "getRegisteredClients", "k:nope")


# -- pull callbacks -------------------------------------------------------------------


def test_pull_callbacks_honours_its_timeout(hub: Hub) -> None:
    page = Page(hub)
    started = time.monotonic()
    assert page.pull(2) == []  # http_request's own deadline is 30 s
    assert time.monotonic() - started >= 1.8


def web_connection_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("minisamp-web-conn")}


def test_pull_callbacks_ends_when_the_page_goes_away(hub: Hub) -> None:
    page = Page(hub)
    assert hub.web_url is not None
    parts = urllib.parse.urlsplit(hub.web_url)
    before = web_connection_threads()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("POST", "/", dump_request("samp.webhub.pullCallbacks", (page.key, "60")))
    deadline = time.monotonic() + 5
    while not ((new := web_connection_threads() - before) and all(t.is_alive() for t in new)):
        assert time.monotonic() < deadline
        time.sleep(0.05)  # waiting for the server to pick the connection up
    (thread,) = new
    conn.close()  # the tab is closed while its pull waits
    thread.join(5)
    assert not thread.is_alive(), "the pull still holds its thread"


def test_pull_callbacks_before_allowing_them_faults(hub: Hub) -> None:
    page = Page(hub, callable=False)
    with pytest.raises(SAMPProxyError, match="allowReverseCallbacks"):
        page.pull(1)


def test_subscribing_before_allowing_callbacks_says_what_a_page_must_call(hub: Hub) -> None:
    page = Page(hub, callable=False)
    # setXmlrpcCallback (the Standard Profile's advice) does not exist for a page
    with pytest.raises(SAMPProxyError, match=r'allowReverseCallbacks\(key, "1"\)'):
        page.hub("declareSubscriptions", {"table.load.votable": {}})


def test_pull_callbacks_wakes_as_soon_as_a_callback_is_queued(hub: Hub, std: RawClient) -> None:
    page = Page(hub)
    page.hub("declareSubscriptions", {"table.load.votable": {}})
    puller, got = page.pull_in_background(60)
    std.hub("notify", page.id, {"samp.mtype": "table.load.votable", "samp.params": {}})
    puller.join(30)  # half the pull's own timeout: it returned because of the callback
    assert not puller.is_alive(), "the pull waited on after a callback was queued"
    assert got[0] == [
        {
            "samp.methodName": "receiveNotification",
            "samp.params": [std.id, {"samp.mtype": "table.load.votable", "samp.params": {}}],
        }
    ]


def test_callbacks_come_back_in_the_order_queued(hub: Hub, std: RawClient) -> None:
    page = Page(hub)
    page.hub("declareSubscriptions", {"test.n": {}})
    for n in range(20):
        std.hub("notify", page.id, {"samp.mtype": "test.n", "samp.params": {"n": str(n)}})
    seen: list[str] = []
    while len(seen) < 20:
        seen += [cb["samp.params"][1]["samp.params"]["n"] for cb in page.pull(5)]
    assert seen == [str(n) for n in range(20)]


def test_unregister_wakes_a_pending_pull(hub: Hub) -> None:
    page = Page(hub)
    puller, got = page.pull_in_background(60)
    page.hub("unregister")
    puller.join(30)
    assert got == [[]]


def test_hub_stop_wakes_pulls_and_joins_web_threads(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "lock", web_profile=True, web_port=0, web_consent=allow_all).start()
    page = Page(hub)
    page.hub("declareSubscriptions", {"samp.hub.event.shutdown": {}})
    puller, got = page.pull_in_background(60)
    hub.stop()
    puller.join(30)  # half the pull's own timeout: the stop ended it
    assert not puller.is_alive()
    assert got and got[0][0]["samp.params"][1]["samp.mtype"] == "samp.hub.event.shutdown"
    assert not [t for t in threading.enumerate() if t.name.startswith("minisamp-web")]


def test_page_that_stops_pulling_is_unregistered(hub: Hub, std: RawClient) -> None:
    assert hub._web is not None
    hub._web.stale_after = 0.5
    page = Page(hub)
    page.pull(1)
    _, event = std.next_of("receiveNotification", "samp.hub.event.unregister", timeout=30)
    assert event["samp.params"]["id"] == page.id
    assert page.id not in std.hub("getRegisteredClients")
    with pytest.raises(SAMPProxyError, match="register again"):
        page.pull(1)


# -- web clients are full clients -----------------------------------------------------


def test_standard_client_sees_web_client_and_its_metadata(hub: Hub, std: RawClient) -> None:
    page = Page(hub, "My Page")
    page.hub("declareMetadata", {"samp.name": "My Page"})
    assert page.id in std.hub("getRegisteredClients")
    assert std.hub("getMetadata", page.id) == {"samp.name": "My Page"}
    assert std.id in page.hub("getRegisteredClients")


def test_standard_call_reaches_web_client_and_reply_returns(hub: Hub, std: RawClient) -> None:
    page = Page(hub)
    page.hub("declareSubscriptions", {"table.load.votable": {}})
    message = {"samp.mtype": "table.load.votable", "samp.params": {"url": "file:///x.vot"}}
    msg_id = std.hub("call", page.id, "tag-1", message)
    sender, got_id, got = page.next_of("receiveCall")
    assert (sender, got_id, got) == (std.id, msg_id, message)
    page.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {"rows": "3"}})
    responder, tag, response = std.next_of("receiveResponse")
    assert (responder, tag, response["samp.result"]) == (page.id, "tag-1", {"rows": "3"})


def test_web_call_reaches_standard_client_and_response_is_pulled(hub: Hub, std: RawClient) -> None:
    page = Page(hub)
    message = {"samp.mtype": "table.highlight.row", "samp.params": {"row": "7"}}
    page.hub("call", std.id, "t1", message)
    assert std.next_of("receiveCall")[2] == message
    responder, tag, response = page.next_of("receiveResponse")
    assert (responder, tag, response["samp.result"]) == (std.id, "t1", {"row": "7"})
    response = page.hub("callAndWait", std.id, message, "10")
    assert response["samp.status"] == "samp.ok"


def test_call_to_a_page_whose_queue_is_full_fails_at_once(hub: Hub, std: RawClient) -> None:
    page = Page(hub)
    page.hub("declareSubscriptions", {"test.n": {}})
    assert hub._web is not None
    web_page = hub._web.page_by_key(page.key)
    assert web_page is not None
    web_page.queue = CallbackQueue(capacity=2)  # a page that stopped pulling, soon full
    for n in range(2):
        std.hub("notify", page.id, {"samp.mtype": "test.n", "samp.params": {"n": str(n)}})
    message = {"samp.mtype": "test.n", "samp.params": {"n": "late"}}
    with pytest.raises(SAMPProxyError, match="queue is full"):  # not the 20 s timeout
        std.hub("callAndWait", page.id, message, "20")


def test_web_client_gets_hub_events(hub: Hub) -> None:
    page = Page(hub)
    page.hub("declareSubscriptions", {"samp.hub.event.register": {}})
    other = RawClient(hub, callable=False)
    assert page.next_of("receiveNotification")[1]["samp.params"] == {"id": other.id}
    other.close()


# -- MType restrictions ---------------------------------------------------------------

SCRIPT = {"samp.mtype": "script.aladin.send", "samp.params": {"script": "get DSS"}}


def test_web_client_cannot_send_script_mtypes_by_default(hub: Hub) -> None:
    aladin = RawClient(hub, subscriptions={"script.aladin.send": {}})
    page = Page(hub)
    with pytest.raises(SAMPProxyError, match=r"script\.aladin\.send is blocked"):
        page.hub("notify", aladin.id, SCRIPT)
    with pytest.raises(SAMPProxyError, match=r"script\.aladin\.send is blocked"):
        page.hub("callAndWait", aladin.id, SCRIPT, "5")
    assert page.hub("notifyAll", SCRIPT) == []
    assert page.hub("getSubscribedClients", "script.aladin.send") == {}
    aladin.close()


def test_recipient_can_mark_an_mtype_mostly_harmless(hub: Hub) -> None:
    aladin = RawClient(hub, subscriptions={"script.aladin.send": {"x-samp.mostly-harmless": "1"}})
    page = Page(hub)
    page.hub("notify", aladin.id, SCRIPT)
    assert aladin.next_of("receiveNotification")[1] == SCRIPT
    aladin.close()


def test_recipient_can_block_a_safe_mtype(hub: Hub) -> None:
    viewer = RawClient(hub, subscriptions={"table.load.votable": {"samp.mostly-harmless": "0"}})
    page = Page(hub)
    with pytest.raises(SAMPProxyError, match="mostly-harmless=0"):
        page.hub("notify", viewer.id, {"samp.mtype": "table.load.votable", "samp.params": {}})
    viewer.close()


def test_standard_clients_are_not_restricted(hub: Hub, std: RawClient) -> None:
    aladin = RawClient(hub, subscriptions={"script.aladin.send": {}})
    std.hub("notify", aladin.id, SCRIPT)
    assert aladin.next_of("receiveNotification") == (std.id, SCRIPT)
    aladin.close()


@pytest.mark.parametrize(
    ("option", "allowed"), [(False, True), (["script.*"], True), (True, False)]
)
def test_mtype_restriction_is_configurable(tmp_path: Path, option: Any, allowed: bool) -> None:
    with Hub(
        tmp_path / "lock",
        web_profile=True,
        web_port=0,
        web_consent=allow_all,
        web_restrict_mtypes=option,
    ) as hub:
        aladin = RawClient(hub, subscriptions={"script.aladin.send": {}})
        page = Page(hub)
        assert page.hub("notifyAll", SCRIPT) == ([aladin.id] if allowed else [])
        aladin.close()


def test_restriction_refusal_names_the_mtype() -> None:
    refusal = MTypeRestriction().refusal("script.aladin.send", {})
    assert refusal is not None and "script.aladin.send" in refusal
    assert MTypeRestriction().refusal("table.load.votable", {}) is None
    assert MTypeRestriction().refusal("samp.app.ping", None) is None


# -- URL translator -------------------------------------------------------------------


def offer_url(std: RawClient, page: Page, url: str) -> None:
    """*std* notifies *page* of a table at *url*; once the page has it, its translator may
    serve *url*."""
    page.hub("declareSubscriptions", {"table.load.votable": {}})
    std.hub("notify", page.id, {"samp.mtype": "table.load.votable", "samp.params": {"url": url}})
    page.next_of("receiveNotification")


def test_translator_serves_a_file_url_sent_to_the_page(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    url = votable_file(tmp_path).as_uri()
    page = Page(hub)
    offer_url(std, page, url)
    reply = page.translate(url)
    assert reply.status == 200
    assert reply.body == votable_file(tmp_path).read_bytes()
    assert reply.headers["Content-Type"] == "application/x-votable+xml"


def test_translator_refuses_an_unknown_key(hub: Hub, tmp_path: Path) -> None:
    assert hub.web_url is not None
    url = urllib.parse.quote(votable_file(tmp_path).as_uri(), safe="")
    assert http_request(f"{hub.web_url}translator/k:nope?{url}").status == 403


def test_translator_refuses_urls_never_sent_to_that_page(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    url = votable_file(tmp_path).as_uri()
    receiver, other = Page(hub, "Receiver"), Page(hub, "Other")
    offer_url(std, receiver, url)
    assert other.translate(url).status == 403
    assert receiver.translate(Path("/etc/passwd").as_uri()).status == 403
    assert receiver.translate(url).status == 200


def test_translator_refuses_urls_the_page_sent_itself(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    url = votable_file(tmp_path).as_uri()
    page = Page(hub)
    page.hub("call", std.id, "t", {"samp.mtype": "table.load.votable", "samp.params": {"url": url}})
    page.next_of("receiveResponse")  # the echoed response carries the URL back
    assert page.translate(url).status == 403


def test_translator_tracks_urls_in_call_and_wait_results(
    hub: Hub, std: RawClient, tmp_path: Path
) -> None:
    url = votable_file(tmp_path).as_uri()
    page = Page(hub)
    std.auto_reply = False
    waiting = threading.Thread(
        target=page.hub,
        args=("callAndWait", std.id, {"samp.mtype": "table.x", "samp.params": {}}, "10"),
    )
    waiting.start()
    _sender, msg_id, _message = std.next_of("receiveCall")
    std.hub("reply", msg_id, {"samp.status": "samp.ok", "samp.result": {"url": url}})
    waiting.join(10)
    assert page.translate(url).status == 200


def test_translator_serves_only_file_and_http_urls(hub: Hub, std: RawClient) -> None:
    url = "ftp://ftp.example.org/t.vot"
    page = Page(hub)
    offer_url(std, page, url)
    reply = page.translate(url)
    assert (reply.status, reply.body) == (403, b"the translator does not serve ftp: URLs")


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "remote.txt").write_text("remote data")
    with serving_directory(tmp_path) as base:
        yield base + "/"


def test_translator_fetches_http_urls(hub: Hub, std: RawClient, web_server: str) -> None:
    url = web_server + "remote.txt"
    page = Page(hub)
    offer_url(std, page, url)
    reply = page.translate(url)
    assert (reply.status, reply.body) == (200, b"remote data")


# -- HTTP: CORS, policy file, local hosts only ----------------------------------------


def test_post_answers_carry_cors_headers(hub: Hub) -> None:
    assert hub.web_url is not None
    body = dump_request("samp.webhub.ping", ())
    reply = http_request(hub.web_url, "POST", body, {"Origin": ORIGIN, "Content-Type": "text/xml"})
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_preflight_allows_post_with_content_type(hub: Hub) -> None:
    assert hub.web_url is not None
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true",
    }
    reply = http_request(hub.web_url, "OPTIONS", headers=headers)
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    assert reply.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert reply.headers["Access-Control-Allow-Private-Network"] == "true"


def test_crossdomain_policy_is_served(hub: Hub) -> None:
    assert hub.web_url is not None
    reply = http_request(hub.web_url + "crossdomain.xml")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/x-cross-domain-policy"
    assert b"<cross-domain-policy>" in reply.body


def test_clientaccesspolicy_is_served_as_pyvos_hub_does(hub: Hub) -> None:
    assert hub.web_url is not None
    reply = http_request(hub.web_url + "clientaccesspolicy.xml")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/xml"
    policy = ElementTree.fromstring(reply.body)
    assert policy.tag == "access-policy"
    assert policy.find(".//allow-from/domain").get("uri") == "*"


@pytest.mark.parametrize(("origin", "echoed"), [(ORIGIN, True), ("not an origin", False)])
def test_get_answers_cors_as_jsamp_not_as_pyvo(hub: Hub, origin: str, echoed: bool) -> None:
    """Only a well-formed Origin is echoed, and credentials are never granted (pyvo's hub
    echoes anything and adds Allow-Credentials and Allow-Headers: see docs/migrating.md)."""
    assert hub.web_url is not None
    reply = http_request(hub.web_url + "crossdomain.xml", headers={"Origin": origin})
    assert reply.status == 200
    assert reply.headers.get("Access-Control-Allow-Origin") == (origin if echoed else None)
    assert reply.headers.get("Access-Control-Allow-Credentials") is None
    assert reply.headers.get("Access-Control-Allow-Headers") is None


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_only_loopback_addresses_are_local(address: str, local: bool) -> None:
    assert is_local_address(address) is local


def test_requests_from_other_hosts_get_403(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub.web_url is not None
    monkeypatch.setattr(plain_http, "is_local_address", lambda host: False)
    body = dump_request("samp.webhub.register", ({"samp.name": "Remote"},))
    assert http_request(hub.web_url, "POST", body, {"Content-Type": "text/xml"}).status == 403
    assert http_request(hub.web_url + "crossdomain.xml").status == 403


# -- consent helpers for the command line ---------------------------------------------

REQUEST = WebRegistrationRequest("Page\x1b[31m", "http://a.example", None, "127.0.0.1")


@contextlib.contextmanager
def terminal() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def answer_prompt(master: int, answer: bytes) -> threading.Thread:
    def run() -> None:
        seen = b""
        while b"Allow?" not in seen:
            seen += os.read(master, 4096)
        assert b"\x1b" not in seen  # the claimed name cannot drive the terminal
        os.write(master, answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("answer", "allowed"), [(b"y\n", True), (b"yes\n", True), (b"\n", False)])
def test_prompt_consent_reads_the_answer_from_the_terminal(answer: bytes, allowed: bool) -> None:
    with terminal() as (master, tty):
        answer_prompt(master, answer)
        assert prompt_consent(REQUEST, timeout=10, tty=tty) is allowed


def test_prompt_consent_refuses_when_nobody_answers() -> None:
    with terminal() as (_master, tty):
        started = time.monotonic()
        assert prompt_consent(REQUEST, timeout=0.5, tty=tty) is False
        assert time.monotonic() - started < 30  # nobody ever answers: its timeout ended it


def test_prompt_consent_refuses_without_a_terminal(tmp_path: Path) -> None:
    assert prompt_consent(REQUEST, timeout=1, tty=str(tmp_path / "no-tty")) is False


def read_until(master: int, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        seen += os.read(master, 4096)
    return seen


def test_prompts_do_not_interleave() -> None:
    results: list[bool] = []

    def ask() -> None:
        results.append(prompt_consent(REQUEST, timeout=20, tty=tty))

    with terminal() as (master, tty):
        askers = [threading.Thread(target=ask) for _ in range(2)]
        for asker in askers:
            asker.start()
        assert read_until(master, b"Allow?").count(b"Allow?") == 1
        # A second prompt, were prompts not serialized, would be written now.
        assert not select.select([master], [], [], 0.5)[0]
        os.write(master, b"y\n")
        read_until(master, b"Allow?")
        os.write(master, b"n\n")
        for asker in askers:
            asker.join(10)
    assert results == [True, False]


def test_consent_policies_by_name() -> None:
    assert consent_policy("allow")(REQUEST) is True
    assert consent_policy("deny")(REQUEST) is False
    assert consent_policy("prompt") is prompt_consent
    with pytest.raises(ValueError, match="prompt, allow or deny"):
        consent_policy("maybe")
