"""The pages still to come (校验, 立档单位): each already behind its role's permission, so that
the navigation and the refusals are what they will be."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from connectors.console.web import render, require

router = APIRouter()


def _coming(path: str, zh: str, en: str, permission: str, what: str) -> None:
    def page(request: Request) -> Response:
        return render(request, "coming.html", {"zh": zh, "en": en, "what": what})

    router.add_api_route(path, page, methods=["GET"], name=en, dependencies=[require(permission)])


_coming("/verify", "校验", "Verify", "verify.view",
        "长期保存检测结果与告警；在此之前请用 recordflow verify。")  # fmt: skip
_coming("/agencies", "立档单位", "Agencies", "agencies.view",
        "立档单位登记及各单位的移交情况；在此之前请用 recordflow agencies list。")  # fmt: skip
