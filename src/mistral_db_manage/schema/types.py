"""Mistral's custom column types.

JSON values are stored as text.  ``MediumText``/``LongText`` are ``TEXT`` on
PostgreSQL and SQLite and ``MEDIUMTEXT``/``LONGTEXT`` on MySQL/MariaDB; the
JSON variants add a codec (``json.dumps`` on the way in, ``json.loads`` on the
way out).  DDL-wise every JSON type is exactly its text type.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def MediumText() -> TypeEngine[str]:
    """TEXT everywhere, MEDIUMTEXT (16 MiB) on MySQL/MariaDB."""
    return Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def LongText() -> TypeEngine[str]:
    """TEXT everywhere, LONGTEXT (4 GiB) on MySQL/MariaDB."""
    return Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class JsonEncoded(TypeDecorator[Any]):
    """A JSON document stored as TEXT; ``None`` is stored as NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


class JsonMediumText(JsonEncoded):
    """JSON over MEDIUMTEXT on MySQL/MariaDB."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return mysql.MEDIUMTEXT()
        return Text()


class JsonLongText(JsonEncoded):
    """JSON over LONGTEXT on MySQL/MariaDB."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return mysql.LONGTEXT()
        return Text()


def Json() -> TypeEngine[Any]:
    """``JsonEncoded``/``JsonDictType``/``JsonListType``: TEXT on every dialect."""
    return JsonEncoded()


def JsonMedium() -> TypeEngine[Any]:
    """``JsonMediumDictType``: TEXT, MEDIUMTEXT on MySQL/MariaDB."""
    return JsonMediumText()


def JsonLong() -> TypeEngine[Any]:
    """``JsonLongDictType``: TEXT, LONGTEXT on MySQL/MariaDB."""
    return JsonLongText()
