"""The API's documentation pages, /docs (Swagger UI) and /redoc, from files the server ships.

FastAPI's own pages load their scripts and fonts from CDNs, so offline they are blank; these are
the same pages with every asset under /static/vendor (swagger-ui-dist 5.35.0, redoc 2.5.2).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

router = APIRouter(include_in_schema=False)
VENDOR = "/static/vendor"


@router.get("/docs")
def swagger_page(request: Request):
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} API",
                               oauth2_redirect_url="/docs/oauth2-redirect",
                               swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
                               swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
                               swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png")


@router.get("/docs/oauth2-redirect")
def swagger_oauth2_redirect():
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc_page(request: Request):
    return get_redoc_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} API",
                          redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
                          redoc_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png", with_google_fonts=False)
