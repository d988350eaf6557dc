"""Who runs this tool: the operating-system user of the process, and how a run is named.

The name comes from the real user id through the password database, never
from ``$LOGNAME``/``$USER`` (which anyone can set to anything, line breaks
included, as :func:`getpass.getuser` would take them).  A uid without an
entry is shown as ``uid N``.
"""

from __future__ import annotations

import os
import pwd
import socket


def os_user() -> str:
    """The name of the process's real user, from the password database."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def this_run(command: str) -> str:
    """This run as another one waiting for the migration lock reads it."""
    return f"mistral-db-manage {command} by {os_user()}@{socket.gethostname()} pid {os.getpid()}"
