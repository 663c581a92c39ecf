"""The console's static files: htmx is the pinned release (scripts/vendor-htmx.sh), and no page
loads anything from another site."""

from __future__ import annotations

import hashlib
import re

from connectors.console.web import HERE

HTMX_VERSION = "2.0.11"
# sha256 of dist/htmx.min.js in the npm package htmx.org@2.0.11 (0BSD).
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_htmx_is_the_pinned_release() -> None:
    vendored = (HERE / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(vendored).hexdigest() == HTMX_SHA256
    assert f'version:"{HTMX_VERSION}"'.encode() in vendored


def test_pages_load_nothing_from_another_site() -> None:
    for template in (HERE / "templates").glob("*.html"):
        text = template.read_text("utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), template.name
