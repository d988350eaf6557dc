"""``python -m mistral_db_manage``."""

from .cli import console_main

console_main()
