"""The Web Profile: SAMP for pages in a browser, served beside the Standard Profile.

``profile`` is the ``samp.webhub.*`` endpoint on port 21012 (registration with the
user's consent, long-poll callbacks, MType restrictions); ``plain_http`` is its HTTP
face (local peers only, CORS, the policy file, the translator's ``GET``); ``pages``
is what it keeps per page (the callback queue a pull drains, the page's record);
``consent`` asks the user whether a page may register; ``translator`` serves, to a
web client, only the URLs a trusted client sent it.

May import: the shared modules, :mod:`minisamp.xmlrpc` and :mod:`minisamp.hub.service`.
Must never import: :mod:`minisamp.hub.hub` (the hub imports this package, lazily, when
asked for a Web Profile), ``client``, ``tables``, the helpers or the command line.
"""

from .consent import ConsentHook, WebRegistrationRequest, consent_policy, prompt_consent
from .profile import MTypeRestriction, WebProfile

__all__ = [
    "ConsentHook",
    "MTypeRestriction",
    "WebProfile",
    "WebRegistrationRequest",
    "consent_policy",
    "prompt_consent",
]
