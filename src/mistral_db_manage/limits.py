"""The bounds this tool keeps on what it reads and what it leaves behind.

One place for the defaults (the CLI's options override them):

* a definition file that ``populate`` reads may hold at most
  :data:`DEFAULT_MAX_DEFINITION_KB` KiB, and its YAML may expand (aliases
  repeat what they refer to) to at most :data:`NODES_PER_KB` values per KiB
  of that limit, nest at most :data:`MAX_YAML_DEPTH` levels deep and hold
  numbers of at most :data:`MAX_NUMBER_CHARACTERS` characters.  Real
  workflows are far below all of these (mistral-extra's largest file is
  about 10 KiB, a few hundred values, under 10 levels deep);
* a SQLite database keeps its newest :data:`DEFAULT_KEEP_BACKUPS` backups.

Nothing is imported here: the CLI reads these at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the default largest definition file, in KiB (``--max-definition-kb``)
DEFAULT_MAX_DEFINITION_KB = 1024
#: how many YAML values a definition may expand to, per KiB of the size limit
NODES_PER_KB = 50
#: how deeply YAML collections may nest
MAX_YAML_DEPTH = 64
#: the longest number (in characters) a definition may hold; longer ones are refused
MAX_NUMBER_CHARACTERS = 64
#: the default number of SQLite backups kept beside the database (``--keep-backups``)
DEFAULT_KEEP_BACKUPS = 5


@dataclass(frozen=True)
class DefinitionLimits:
    """How much a definition file may hold, and how much its YAML may expand."""

    max_kb: int = DEFAULT_MAX_DEFINITION_KB

    @property
    def max_bytes(self) -> int:
        return self.max_kb * 1024

    @property
    def max_nodes(self) -> int:
        return self.max_kb * NODES_PER_KB
