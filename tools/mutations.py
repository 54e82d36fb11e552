"""The edits tools/mutate.py makes, one at a time: each breaks one guard or bookkeeping.

Each names a file, one exact snippet of it (it must occur exactly once, or the
mutation is reported stale) and its replacement, with the tests expected to notice
first (*focus*; the whole fast suite runs if they do not).  Add an entry whenever a
contract is found that no fast test guards, together with the test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    why: str
    focus: tuple[str, ...] = ()


HUB = "minisamp/hub/service.py"
REGISTRY = "minisamp/hub/registry.py"
CALLBACK = "minisamp/client/callback.py"
WEB = "minisamp/hub/web/profile.py"
T_HUB = "tests/test_hub.py"
T_MSG = "tests/test_client_messaging.py"
T_WEB = "tests/test_web_profile.py"

MUTATIONS: list[Mutation] = [
    # -- the hub: which reply belongs to which call ----------------------------------
    Mutation(
        "hub-msg-id-repeats",
        HUB,
        'msg_id = f"{sender.public_id}_{kind}_{next(self._msg_ids)}"',
        'msg_id = f"{sender.public_id}_{kind}_1"',
        "msg-ids repeat for one sender: a second call's pending entry replaces the first's",
        (
            f"{T_HUB}::test_two_calls_answered_in_reverse_order_reach_their_own_tags",
            f"{T_HUB}::test_two_calls_and_waits_answered_in_reverse_order_each_get_their_own",
        ),
    ),
    Mutation(
        "hub-reply-not-forgotten",
        HUB,
        """            del self._pending[msg_id]
            self._answer(pending, response)""",
        """            self._answer(pending, response)""",
        "a call stays pending after its reply: a second reply is passed on again",
        (T_HUB,),
    ),
    Mutation(
        "hub-anyone-may-reply",
        HUB,
        "if pending.recipient_id != replier.public_id:",
        "if False:",
        "any client may answer a call sent to another",
        (T_HUB,),
    ),
    Mutation(
        "hub-timed-out-not-remembered",
        HUB,
        "self._timed_out[msg_id] = None",
        "pass",
        "a late reply to a timed-out callAndWait gets the wrong fault",
        (T_HUB,),
    ),
    Mutation(
        "hub-response-tag-lost",
        HUB,
        'args = (pending.recipient_id, pending.tag or "", response)',
        'args = (pending.recipient_id, "", response)',
        "receiveResponse carries no msg-tag",
        (T_HUB,),
    ),
    Mutation(
        "hub-dropped-recipient-not-answered",
        HUB,
        'self._answer(pending, _error_response(f"{record.public_id} {why} before replying"))',
        "pass",
        "a caller waits forever when its recipient unregisters",
        (T_HUB,),
    ),
    Mutation(
        "hub-sync-timeout-not-capped",
        HUB,
        "if seconds <= 0 or seconds > self.max_sync_timeout:",
        "if seconds <= 0:",
        "callAndWait's timeout is not capped at the hub's maximum",
        (T_HUB,),
    ),
    Mutation(
        "hub-broadcast-to-sender",
        HUB,
        "if other is not sender\n",
        "if True\n",
        "a broadcast reaches its own sender",
        (T_HUB,),
    ),
    Mutation(
        "hub-send-filter-ignored-for-one",
        HUB,
        """        refusal = self._refusal(sender, recipient, mtype)
        if refusal is not None:""",
        """        refusal = None
        if refusal is not None:""",
        "a web page may send a blocked MType to one named client",
        (T_WEB,),
    ),
    Mutation(
        "hub-shutdown-leaves-waiters",
        HUB,
        """                if pending.waiter is not None:
                    pending.waiter.fail("the hub is shutting down")""",
        """                pass""",
        "callAndWait callers are not released when the hub stops",
        (T_HUB,),
    ),
    Mutation(
        "hub-delivery-failure-ignored",
        HUB,
        """                if pending.waiter is not None:
                    pending.waiter.fail(text)
                else:
                    self._answer(pending, _error_response(text))""",
        """                pass""",
        "a call the hub could not deliver leaves its caller waiting",
        (T_HUB, "tests/robustness/test_faults.py"),
    ),
    # -- the registry: who may do what ----------------------------------------------
    Mutation(
        "registry-hub-key-accepted",
        REGISTRY,
        "if record is None or record is self.hub:\n            raise fault(FAULT_BAD_KEY",
        "if record is None:\n            raise fault(FAULT_BAD_KEY",
        "the hub's own private key works as a caller's key",
        (f"{T_HUB}::test_the_hubs_own_private_key_is_refused_as_a_callers",),
    ),
    Mutation(
        "registry-subscribe-before-callback",
        REGISTRY,
        "if not record.callable:",
        "if False:",
        "declareSubscriptions accepted before setXmlrpcCallback",
        (f"{T_HUB}::test_declare_subscriptions_before_set_callback_is_refused",),
    ),
    Mutation(
        "registry-bad-secret-accepted",
        REGISTRY,
        'if profile == "std" and secret != self.secret:',
        "if False:",
        "anyone may register without the lockfile's secret",
        (T_HUB,),
    ),
    Mutation(
        "registry-register-while-closing",
        REGISTRY,
        """            if self._closed:
                raise fault(FAULT_GENERAL, "the hub is shutting down")""",
        """            pass""",
        "clients may register on a hub that is shutting down",
        (T_HUB,),
    ),
    Mutation(
        "registry-unregister-not-announced",
        REGISTRY,
        'self._event("samp.hub.event.unregister", {"id": record.public_id})',
        "pass",
        "others are not told a client left",
        (T_HUB,),
    ),
    Mutation(
        "registry-caller-in-own-list",
        REGISTRY,
        "return [cid for cid in self._by_id if cid != record.public_id]",
        "return list(self._by_id)",
        "getRegisteredClients lists the caller",
        (T_HUB,),
    ),
    # -- the client: which response belongs to which future ---------------------------
    Mutation(
        "client-tag-constant",
        CALLBACK,
        'tag = f"{self._prefix}{next(self._counter)}"',
        'tag = f"{self._prefix}1"',
        "every call_async of a client uses one msg-tag: futures get each other's answers",
        (f"{T_MSG}::test_two_call_async_futures_each_get_their_own_response",),
    ),
    Mutation(
        "client-callback-key-unchecked",
        CALLBACK,
        "if not isinstance(key, str) or not hmac.compare_digest(key.encode(), self._key):",
        "if not isinstance(key, str):",
        "anyone who finds the callback port may post messages to the client",
        ("tests/test_client_hub_gone.py", "tests/robustness/test_security.py"),
    ),
    Mutation(
        "client-hub-events-from-anyone",
        CALLBACK,
        "            if sender_id != self._hub_id:",
        "            if False:",
        "any client may send samp.hub.event.shutdown and make us think the hub left",
        ("tests/test_client_hub_gone.py", "tests/robustness/test_security.py"),
    ),
    Mutation(
        "client-broadcast-done-at-first",
        CALLBACK,
        "done = entry.expected is not None and entry.expected <= entry.responses.keys()",
        "done = True",
        "call_all_async completes with the first response only",
        (T_MSG,),
    ),
    Mutation(
        "client-earlier-deadline-not-woken",
        CALLBACK,
        """                elif self._deadlines[0][1] == tag:
                    self._cond.notify()""",
        """                elif False:
                    pass""",
        "a short call_async timeout waits for a longer one registered before it",
        (T_MSG, "tests/test_client_connect.py"),
    ),
    Mutation(
        "client-add-after-close",
        CALLBACK,
        """            if self._closed:
                raise SAMPClientError("the SAMP client was closed")""",
        """            pass""",
        "call_async on a closed client returns a future nobody settles",
        (T_MSG, "tests/test_client_connect.py", "tests/test_client_hub_gone.py"),
    ),
    Mutation(
        "client-broadcast-to-nobody-waits",
        CALLBACK,
        "            done = entry.expected <= entry.responses.keys()",
        "            done = False",
        "call_all_async reaching nobody (or answered before callAll returned) waits its timeout",
        (T_MSG,),
    ),
    Mutation(
        "client-broadcast-only-at-timeout",
        CALLBACK,
        "done = entry.expected is not None and entry.expected <= entry.responses.keys()",
        "done = False",
        "call_all_async completes only at its timeout, even when everyone answered",
        (T_MSG,),
    ),
    Mutation(
        "client-hub-disconnect-ignored",
        "minisamp/client/lifecycle.py",
        "if msg.mtype in (HUB_SHUTDOWN, HUB_DISCONNECT):",
        "if msg.mtype == HUB_SHUTDOWN:",
        "a client the hub disconnected thinks it is still registered",
        ("tests/test_client_hub_gone.py",),
    ),
    Mutation(
        "directory-seed-resurrects",
        "minisamp/client/directory.py",
        'if client_id == self.self_id or (client_id, "gone") in self._touched:',
        "if client_id == self.self_id:",
        "a client that left while we connected stays in our directory",
        ("tests/test_directory.py",),
    ),
    # -- the Web Profile --------------------------------------------------------------
    Mutation(
        "web-consent-not-asked",
        WEB,
        "if not ask_consent(self.consent, request):",
        "if False:",
        "any page registers without the user's consent",
        (T_WEB,),
    ),
    Mutation(
        "web-consent-hook-errors-allow",
        "minisamp/hub/web/consent.py",
        """        logger.exception("the web consent hook failed: refusing %r", request.name)
        return False""",
        """        logger.exception("the web consent hook failed: refusing %r", request.name)
        return True""",
        "a consent hook that raises lets the page in",
        (T_WEB,),
    ),
    Mutation(
        "web-consent-sees-no-origin",
        WEB,
        'name, headers.get("Origin"), headers.get("Referer"), address, identity',
        'name, identity.get("origin"), headers.get("Referer"), address, identity',
        "the consent hook is shown an origin the page claims, not the browser's",
        (T_WEB,),
    ),
    # (Not listed: the Web Profile's own "shutting down" check in _register.  Hub.stop()
    # shuts the routing service down first, whose register() refuses as well, so no
    # test can tell the two apart: test_hub_stops_while_a_consent_dialog_is_open... checks
    # the behaviour.)
    Mutation(
        "web-subscribe-before-callbacks",
        WEB,
        'if name == "declareSubscriptions" and web.queue is None:',
        "if False:",
        "a page subscribing first is told to call setXmlrpcCallback, which pages lack",
        (T_WEB,),
    ),
    Mutation(
        "web-keys-on-standard-endpoint",
        "minisamp/hub/hub.py",
        "if params and self._web is not None and self._web.owns_key(params[0]):",
        "if False:",
        "a page's key works at the Standard Profile endpoint",
        (T_WEB,),
    ),
    Mutation(
        "web-restriction-off",
        WEB,
        'if sender.profile != "web" or self.restriction is None:',
        "if True:",
        "pages may send script MTypes",
        (T_WEB,),
    ),
    Mutation(
        "web-full-queue-silent",
        WEB,
        'self.service.delivery_failed(record.public_id, method, args, "its queue is full")',
        "pass",
        "a call to a page whose queue is full leaves its caller waiting",
        (T_WEB,),
    ),
    Mutation(
        "web-translator-any-url",
        "minisamp/hub/web/translator.py",
        "            return url in self.permitted",
        "            return True",
        "a page may have any file on the machine translated",
        (T_WEB,),
    ),
    Mutation(
        "web-translator-own-urls",
        "minisamp/hub/web/translator.py",
        """                if url not in self.blocked:
                    _remember(self.permitted, url)""",
        """                _remember(self.permitted, url)""",
        "a page may have a URL translated that it sent itself and got echoed back",
        (T_WEB,),
    ),
    Mutation(
        "web-remote-peers-admitted",
        "minisamp/hub/web/plain_http.py",
        "        if is_local_address(str(client_address[0])):",
        "        if True:",
        "the Web Profile serves other machines",
        (T_WEB,),
    ),
    # -- wire and lockfile -----------------------------------------------------------
    Mutation(
        "xmlrpc-body-limit-off",
        "minisamp/xmlrpc/httpd.py",
        "if size > self.server.owner.max_body:",
        "if False:",
        "a request body of any size is read into memory",
        ("tests/test_xmlrpc.py", "tests/robustness/test_server_hostile_input.py"),
    ),
    Mutation(
        "xmlrpc-depth-unlimited",
        "minisamp/xmlrpc/codec.py",
        "if len(self.marks) >= MAX_DEPTH:",
        "if False:",
        "values nested without limit (stack exhaustion from one request)",
        ("tests/test_xmlrpc.py", "tests/robustness/test_server_hostile_input.py"),
    ),
    Mutation(
        "xmlrpc-cr-not-escaped",
        "minisamp/xmlrpc/codec.py",
        r'text = text.replace("\r", "&#13;")',
        "pass",
        "a carriage return in a string arrives as a line feed",
        ("tests/test_xmlrpc.py",),
    ),
    Mutation(
        "xmlrpc-response-size-unlimited",
        "minisamp/xmlrpc/transport.py",
        """        if size > MAX_RESPONSE_BYTES:""",
        """        if False:""",
        "a hostile peer's huge response is read into memory",
        ("tests/test_xmlrpc.py", "tests/robustness/test_hostile_peers.py"),
    ),
    Mutation(
        "xmlrpc-one-slow-client-per-slot",
        "minisamp/xmlrpc/httpd.py",
        "if len(self._threads) >= self.owner.max_connections or self._closing:",
        "if len(self._threads) >= 4 or self._closing:",
        "a handful of slow-loris connections take every connection slot",
        ("tests/robustness/test_hostile_peers.py",),
    ),
    Mutation(
        "lockfile-remote-host-accepted",
        "minisamp/lockfile.py",
        'if parts.netloc not in ("", "localhost", "127.0.0.1"):',
        "if False:",
        "a file: URL on another host is read as a lockfile",
        ("tests/test_lockfile.py",),
    ),
    Mutation(
        "messages-least-specific-match",
        "minisamp/messages.py",
        "if level > best_level:",
        "if level >= 0 and best is None:",
        "the first matching subscription wins, not the most specific",
        ("tests/test_messages.py", "tests/test_handlers.py"),
    ),
]
