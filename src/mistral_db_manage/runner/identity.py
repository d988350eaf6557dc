"""Who runs this tool: the operating-system user of the process.

The name comes from the real user id through the password database, never
from ``$LOGNAME``/``$USER`` (which anyone can set to anything, line breaks
included, as :func:`getpass.getuser` would take them).  A uid without an
entry is shown as ``uid N``.
"""

from __future__ import annotations

import os
import pwd


def os_user() -> str:
    """The name of the process's real user, from the password database."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
