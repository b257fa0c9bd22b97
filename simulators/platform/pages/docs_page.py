"""The interactive API documentation (Swagger UI) served from this machine, never from a CDN.

:func:`install_docs` adds ``GET /docs`` (an HTML page without inline script), ``GET /docs/init.js`` (the
page's start-up script) and ``/docs/static/*`` (the Swagger UI files of the ``swagger-ui-bundle`` package,
a dependency of roucai-harness).  The page's Content-Security-Policy (:data:`~simulators.platform.webguard.DOCS_CSP`)
allows scripts from this server only.  Without the package, ``/docs`` answers 503 with a bilingual message
and ``/openapi.json`` still works.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

_INIT_JS = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
};
"""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI for ``app`` at ``/docs`` from the locally installed bundle (``app`` has ``docs_url=None``)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - the package is a declared dependency
        swagger_ui_path = None
    else:
        app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    title = escape(app.title)

    @app.get("/docs", include_in_schema=False)
    def docs():
        if swagger_ui_path is None:
            return JSONResponse(
                {
                    "error": {
                        "zh": "未安装 swagger-ui-bundle，/openapi.json 仍可用",
                        "en": "swagger-ui-bundle is not installed; /openapi.json still works",
                    }
                },
                status_code=503,
            )
        return HTMLResponse(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            '<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="swagger-ui"></div>'
            '<script src="/docs/static/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script>'
            "</body></html>"
        )

    @app.get("/docs/init.js", include_in_schema=False)
    def docs_init():
        return Response(_INIT_JS, media_type="application/javascript")
