"""The receiving register as JSON (for programs) and as an HTML page (a Jinja2 template,
autoescaped: titles and reasons are the agency's text), Chinese first with English beside, laid
out for A4 paper when printed."""

from __future__ import annotations

import json

import jinja2

from archival.transfer_register.build import TransferRegister, local_time, size_text

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("archival.transfer_register", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_environment.filters["size"] = size_text
_environment.filters["cst"] = local_time


def render_json(register: TransferRegister) -> str:
    return json.dumps(register.as_json(), ensure_ascii=False, indent=2) + "\n"


def render_html(register: TransferRegister) -> str:
    return _environment.get_template("transfer_register.html.j2").render(register=register)
