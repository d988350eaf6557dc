"""Showing a database URL without any part of its password.

:mod:`.dburl` parses ``[database] connection`` and shows a parsed URL with
:meth:`~.dburl.DatabaseUrl.masked`; this module holds what that shares with
the rendering of text that could not be parsed at all (:func:`mask_raw`):
the mask, the query keys whose values are secret, and one-line output.
Nothing here parses a URL into its parts, and nothing is imported but the
standard library.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

__all__ = ["MASK", "is_secret_key", "mask_raw", "one_line"]

#: what is shown instead of a password or a secret query value
MASK = "***"

# Query keys whose values are hidden (matched on the lowercased, decoded key):
# password, passwd, sslpassword, pwd, client_secret, auth_token...
_SECRET_KEY_PARTS = ("pass", "pwd", "secret", "token")

_SCHEME_PREFIX = re.compile(r"[\w+.\-]*:/+")
_NUMBER = re.compile(r"\s*\d+\s*")
_UNREMARKABLE_USER = re.compile(r"[^/?#\s]*")
_AUTHORITY_END = re.compile(r"[/?]")


def is_secret_key(key: str) -> bool:
    """Whether the value of the query parameter ``key`` is to be hidden."""
    lowered = key.lower()
    return any(part in lowered for part in _SECRET_KEY_PARTS)


def one_line(text: str) -> str:
    """``text``, or its escaped form if it holds line breaks or other unprintable characters."""
    return text if text.isprintable() else repr(text)[1:-1]


def _mask_query(text: str) -> str:
    """``text`` with the value of each secret ``key=value`` after its first ``?`` hidden."""
    head, mark, query = text.partition("?")
    if not mark:
        return text
    items = []
    for item in query.split("&"):
        key, equals, _value = item.partition("=")
        items.append(f"{key}={MASK}" if equals and is_secret_key(unquote_plus(key)) else item)
    return head + mark + "&".join(items)


def mask_raw(raw: str) -> str:
    """A rendering of a URL that could not be parsed, showing no part of any password.

    Written for what operators type, percent-encoded or not: everything
    between ``scheme://`` and the *last* ``@`` is hidden, except a user name
    before the first ``:`` (so a password holding ``@``, ``:``, ``/``, ``%``,
    ``#``, ``$`` or ``?`` is hidden whole).  A port that is not a number may
    be a piece of password (``user:password/db`` without ``@host``, or a
    password ``x@:y`` without a host): it is hidden with all that follows.
    The value of any ``?password=`` (or other secret-looking key) is hidden
    too.  When in doubt, more is hidden rather than less.
    """
    prefix = _SCHEME_PREFIX.match(raw)
    start = prefix.end() if prefix else 0
    head, rest = raw[:start], raw[start:]
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, has_colon, _password = userinfo.partition(":")
        if not _UNREMARKABLE_USER.fullmatch(user):
            shown = MASK
        elif has_colon:
            shown = f"{user}:{MASK}"
        else:
            shown = user  # no ":" - no password
        return f"{head}{shown}@{_mask_after_userinfo(rest)}"

    return head + _mask_after_userinfo(rest)


def _mask_after_userinfo(text: str) -> str:
    """``host:port/database?query`` with a port that is not a number and secret values hidden."""
    authority = _AUTHORITY_END.split(text, maxsplit=1)[0]
    host_end = authority.find("]") + 1 if authority.startswith("[") else 0
    colon = authority.find(":", host_end)
    if colon >= 0 and not _NUMBER.fullmatch(authority[colon + 1 :]):
        return authority[: colon + 1] + MASK
    return _mask_query(text)
