"""The archive staff's web console, `recordflow console` (docs/design.md, "Console").

FastAPI with server-rendered Jinja2 pages and htmx (vendored in `static/`), Chinese first. It reads
the archive from a local SQLite store that follows the topics (`store.py`), signs people in with
accounts kept on a compacted topic (`users.py`, `auth.py`), lets each of the three roles (三员分立,
`roles.py`) do only its own work, and appends every sign-in and staff action to
`recordflow.audit.v1` (`audit.py`).
"""
