#!/usr/bin/env bash
# Vendors htmx for the console (connectors/console/static/htmx.min.js) from the npm registry: the
# one pinned file the pages load, so that no Node and no CDN is needed at run time. Bump VERSION,
# run this, and update HTMX_SHA256 in tests/unit/connectors/console/test_static.py.
set -euo pipefail
VERSION=2.0.11
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar xzf "htmx.org-$VERSION.tgz")
cp "$work/package/dist/htmx.min.js" connectors/console/static/htmx.min.js
sha256sum connectors/console/static/htmx.min.js
