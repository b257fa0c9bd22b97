"""The OpenAPI document says what the server does (issue 13, finding 11: schema drift).

:func:`document_errors` post-processes FastAPI's generated document once:

* FastAPI documents request validation errors as 422, but this platform answers them 400 with the bilingual
  ``{"error": {"zh", "en"}}`` body: every 422 becomes that 400, and every operation with parameters documents it;
* signed operations (their description says "Signed request") document 401 (no or a wrong signature) and 409
  (a replay);
* operations with a request body document 413 (body over the limit) and 408 (body not received in time), which
  :class:`.webguard.Guard` answers;
* ``extra`` adds per-operation answers, e.g. 404 for an unknown node or instruction.

Answers already documented (the upload's ``DataExchangeResp`` codes, the trace answer's 400/404) are kept.
"""

from __future__ import annotations

from fastapi import FastAPI

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["zh", "en"],
            "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
        }
    },
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def document_errors(app: FastAPI, extra: dict[tuple[str, str], dict[str, str]] | None = None) -> None:
    """Make ``app.openapi()`` document the error answers described in the module docstring."""
    generate = app.openapi
    extra = extra or {}

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = generate()
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                if op.get("parameters") or "requestBody" in op:
                    responses.setdefault("400", _error("Invalid parameters (bilingual error body)"))
                if "Signed request" in (op.get("description") or ""):
                    responses.setdefault(
                        "401", _error("No valid signature (X-Node-Id / X-Request-Time / X-Verify-Code)")
                    )
                    responses.setdefault("409", _error("Replayed request (the same signature twice)"))
                if method in ("post", "put", "patch"):
                    responses.setdefault("413", _error("Request body over the limit"))
                    responses.setdefault("408", _error("Request body not received in time"))
                for code, text in extra.get((method.upper(), path), {}).items():
                    responses.setdefault(code, _error(text))
        doc.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        doc.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
