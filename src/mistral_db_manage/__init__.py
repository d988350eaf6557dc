"""mistral-db-manage: the OpenStack Mistral database, its revision chain and populate.

The public API lives in :mod:`mistral_db_manage.api`; the console script in
:mod:`mistral_db_manage.cli`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
