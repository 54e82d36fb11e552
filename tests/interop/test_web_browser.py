"""A real browser as a Web Profile client: headless Chromium runs ``web/samp_page.js``.

The page is served from its own loopback HTTP server, so every call it makes to the
hub is cross-origin (CORS preflights included).  It registers, allows reverse
callbacks and long-polls; a Standard Profile client calls it with
``table.load.votable``; the page fetches the table through the hub's URL translator,
counts its rows and replies; the sender gets that count back.

Needs ``apt-get install chromium chromium-driver`` and ``pip install selenium``;
skipped with the reason otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httputil import serving_directory
from needs import found, needs
from samp_raw import RawClient

from minisamp.hub import Hub
from minisamp.hub.web.profile import WebRegistrationRequest

BROWSER = {"chromium": "/usr/bin/chromium", "chromedriver": "/usr/bin/chromedriver"}
CHROMIUM = found("chromium", BROWSER["chromium"]) or BROWSER["chromium"]
CHROMEDRIVER = found("chromedriver", BROWSER["chromedriver"]) or BROWSER["chromedriver"]
PAGE_DIR = Path(__file__).parent / "web"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),  # ~2 s a test once Chromium runs; its start can be slow
    needs("chromium", "chromedriver", fallbacks=BROWSER),
]
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install selenium)"
)

VOTABLE = """<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
 <RESOURCE><TABLE name="t">
  <FIELD name="id" datatype="int"/>
  <DATA><TABLEDATA>
{rows}
  </TABLEDATA></DATA>
 </TABLE></RESOURCE>
</VOTABLE>
"""


@pytest.fixture
def page_server() -> Iterator[str]:
    """The test page, served from another port than the hub's (another origin)."""
    with serving_directory(PAGE_DIR, thread_name="test-page-server") as base:
        yield base + "/samp_page.html"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def wait_for_state(driver: Any, wanted: str, timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def state(d: Any) -> bool:
        current = d.execute_script("return window.samp && window.samp.state")
        if isinstance(current, str) and current.startswith("failed"):
            raise AssertionError(f"the page failed: {current}")
        return bool(current == wanted)

    try:
        WebDriverWait(driver, timeout).until(state)
    except Exception as exc:
        console = "\n".join(str(entry) for entry in driver.get_log("browser"))
        page_log = driver.execute_script("return document.getElementById('log').textContent")
        raise AssertionError(f"page never reached {wanted!r}:\n{page_log}\n{console}") from exc


def test_browser_page_loads_a_table_through_the_translator_and_replies(
    tmp_path: Path, page_server: str, browser: Any
) -> None:
    requests: list[WebRegistrationRequest] = []

    def consent(request: WebRegistrationRequest) -> bool:
        requests.append(request)
        return True

    table = tmp_path / "five rows.vot"
    table.write_text(VOTABLE.format(rows="\n".join(f"<TR><TD>{n}</TD></TR>" for n in range(5))))
    with Hub(tmp_path / "lockfile", web_profile=True, web_port=0, web_consent=consent) as hub:
        sender = RawClient(hub, subscriptions={})
        try:
            browser.get(f"{page_server}?hub={hub.web_url}")
            wait_for_state(browser, "ready")
            page_id = browser.execute_script("return window.samp.selfId")
            assert sender.hub("getMetadata", page_id)["samp.name"] == "Browser Test Page"

            message = {
                "samp.mtype": "table.load.votable",
                "samp.params": {"url": table.as_uri(), "name": "five rows"},
            }
            sender.hub("call", page_id, "load-1", message)
            responder, tag, response = sender.next_of("receiveResponse", timeout=30)
            wait_for_state(browser, "replied")
            errors = browser.execute_script("return window.samp.errors")
        finally:
            sender.close()
    assert (responder, tag) == (page_id, "load-1")
    assert response == {"samp.status": "samp.ok", "samp.result": {"rows": "5"}}
    assert errors == []
    assert [r.name for r in requests] == ["Browser Test Page"]
    assert requests[0].origin == page_server.rsplit("/", 1)[0]  # the page's own origin
