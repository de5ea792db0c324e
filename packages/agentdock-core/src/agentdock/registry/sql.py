"""The registry's queries, written once for every SQL backend.

:class:`SQLStore` holds every query in portable SQL with ``?`` parameters (SQLite's style;
a backend with another style rewrites them in its connection wrapper) and ``RETURNING`` for
new ids. A backend supplies two context managers: ``_tx()`` (one write transaction) and
``_read()`` (a connection for reads), plus its migrations. The embedded backend is
:class:`agentdock.registry.sqlite.SQLiteStore`; the Postgres plugin is another.

The queries live by concern, one class each, and :class:`SQLStore` is all of them, which is
the whole :class:`agentdock.storecontract.Store`: :mod:`.sqlbase` (the connection contract,
errors and rows), :mod:`.sqlaudit`, :mod:`.sqlkeys`, :mod:`.sqlversions` and
:mod:`.sqldeployments`.
"""

from __future__ import annotations

from agentdock.registry.sqlaudit import AuditQueries, clean_details
from agentdock.registry.sqldeployments import DeploymentQueries
from agentdock.registry.sqlkeys import KeyQueries
from agentdock.registry.sqlversions import VersionQueries

__all__ = ["SQLStore", "clean_details"]


class SQLStore(VersionQueries, DeploymentQueries, KeyQueries, AuditQueries):
    """Every registry operation; subclasses supply connections and migrations."""
