"""Collections: config (schema, rules, indexes), the rules playground, and the document
browser with its query builder. Every read and write goes through the document services."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from baas.api.errors import ApplicationError, InvalidArgument
from dashboard import services as console_services
from dashboard.access import Console, project_page
from dashboard.views.common import answer_error, error_info, error_status, json_field, page, pretty
from projects.documents import config as collection_configs
from projects.documents import selectors as document_selectors
from projects.documents import services as document_services
from projects.documents.config import RULE_OPERATIONS
from projects.documents.query import COMPARISON_OPS, parse_query
from projects.rules.services import OPERATIONS, rules_test

FILTER_ROWS = 3


def _failed(request: HttpRequest, console: Console, exc: ApplicationError) -> tuple[HttpResponse | None, dict[str, Any], int]:
    return answer_error(request, console, exc), error_info(exc), error_status(exc)


@project_page()
def collections(request: HttpRequest, console: Console) -> HttpResponse:
    error = None
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        try:
            collection_configs.collection_config_set(ctx=console.ctx, name=name, schema=None, rules={}, indexes=[])
        except ApplicationError as exc:
            special, error, status = _failed(request, console, exc)
            if special is not None:
                return special
        else:
            console_services.audit_record(project=console.project, actor=request.user, action="collection.create", target=name)
            return redirect("dashboard:documents", project_id=console.project.id, name=name)
    rows = collection_configs.collections_list(ctx=console.ctx)
    context = {"collections": [collection_configs.collection_json(r) for r in rows], "error": error, "section": "collections"}
    return page(request, console, "dashboard/collections.html", context, status=status)


def _indexes_text(indexes: list[list[str]]) -> str:
    return "\n".join(", ".join(index) for index in indexes)


def _indexes_parse(raw: str) -> list[list[str]]:
    return [[part.strip() for part in line.split(",") if part.strip()] for line in raw.splitlines() if line.strip()]


@project_page()
def collection_config(request: HttpRequest, console: Console, name: str) -> HttpResponse:
    """Schema (JSON Schema), one CEL rule per operation, and indexes, saved together."""
    error = None
    status = 200
    saved = False
    try:
        row = collection_configs.collection_get(ctx=console.ctx, name=name)
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=404)
    current = collection_configs.collection_json(row)
    values = {
        "schema": pretty(current["schema"]) if current["schema"] is not None else "",
        "indexes": _indexes_text(current["indexes"]),
        **{f"rule_{op}": current["rules"].get(op, "") for op in RULE_OPERATIONS},
    }
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in values}
        try:
            schema = json_field(values["schema"], "schema")
            rules = {op: values[f"rule_{op}"].strip() for op in RULE_OPERATIONS if values[f"rule_{op}"].strip()}
            collection_configs.collection_config_set(
                ctx=console.ctx, name=name, schema=schema, rules=rules, indexes=_indexes_parse(values["indexes"])
            )
        except ApplicationError as exc:
            special, error, status = _failed(request, console, exc)
            if special is not None:
                return special
        else:
            console_services.audit_record(
                project=console.project, actor=request.user, action="collection.config", target=name,
                details={"rules": sorted(rules), "indexes": len(_indexes_parse(values["indexes"])), "schema": schema is not None},
            )
            saved = True
            current = collection_configs.collection_json(collection_configs.collection_get(ctx=console.ctx, name=name))
    context = {
        "name": name, "current": current, "values": values,
        "rule_rows": [(op, values[f"rule_{op}"]) for op in RULE_OPERATIONS],
        "error": error, "saved": saved, "section": "collections",
        "end_users": _end_users(console), "playground_operations": OPERATIONS,
    }
    return page(request, console, "dashboard/collection_config.html", context, status=status)


def _end_users(console: Console) -> list[Any]:
    from endusers.selectors import users_list

    return users_list(project_id=console.project.id, limit=100).users


@project_page(write_role="viewer")
def playground(request: HttpRequest, console: Console, name: str) -> HttpResponse:
    """Run ``rules:test`` against a chosen user and document; answers a fragment for htmx.
    Changes nothing, so viewers may use it too."""
    from endusers.selectors import user_get

    form = request.POST
    result = None
    error = None
    try:
        body: dict[str, Any] = {"operation": form.get("operation") or "get"}
        if form.get("rule", "").strip():
            body["rule"] = form["rule"]
        else:
            body["collection"] = name
        uid = form.get("uid", "").strip()
        if uid:
            claims = json_field(form.get("claims", ""), "claims")
            if claims is None:
                user = user_get(project_id=console.project.id, uid=uid)
                claims = {**(user.claims or {}), "email": user.email, "email_verified": user.email_verified}
            body["auth"] = {"uid": uid, "token": claims}
        doc_id = form.get("doc_id", "").strip()
        if doc_id:
            document = document_selectors.document_get(ctx=_privileged(console), collection=name, doc_id=doc_id)
            body["resource"] = {"id": document.doc_id, "data": document.data}
        request_data = json_field(form.get("request_data", ""), "request_data")
        if request_data is not None:
            body["request"] = {"data": request_data}
        result = rules_test(ctx=_privileged(console), body=body)
    except ApplicationError as exc:
        error = error_info(exc)
    return page(request, console, "dashboard/_playground_result.html", {"result": result, "error": error, "body": None})


def _privileged(console: Console) -> Any:
    """Reads on behalf of any member (the playground only reads)."""
    from dataclasses import replace

    return replace(console.ctx, key_kind="secret")


def _query_body(params: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The query builder's fields as a query body (values are JSON, else strings)."""
    rows = []
    clauses = []
    for i in range(FILTER_ROWS):
        field, op, raw = params.get(f"f{i}_field", "").strip(), params.get(f"f{i}_op", "=="), params.get(f"f{i}_value", "")
        rows.append({"field": field, "op": op, "value": raw})
        if not field:
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        clauses.append({"field": field, "op": op, "value": value})
    body: dict[str, Any] = {}
    if len(clauses) == 1:
        body["where"] = clauses[0]
    elif clauses:
        body["where"] = {"and": clauses}
    order = params.get("order", "").strip()
    if order:
        body["orderBy"] = [{"field": order, "direction": "desc" if params.get("direction") == "desc" else "asc"}]
    try:
        body["limit"] = int(params.get("limit") or 20)
    except ValueError:
        raise InvalidArgument("'limit' is a number.", details={"field": "limit"}) from None
    if params.get("cursor"):
        body["cursor"] = params["cursor"]
    return body, rows


def _row(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "data_text": json.dumps(document["data"], ensure_ascii=False, sort_keys=True)}


@project_page()
def documents(request: HttpRequest, console: Console, name: str) -> HttpResponse:
    """The document browser: filters, ordering and keyset pages (``cursor``)."""
    error = None
    status = 200
    page_of = None
    body, rows = {}, []
    try:
        collection_configs.collection_get(ctx=console.ctx, name=name)
        body, rows = _query_body(request.GET)
        page_of = document_selectors.document_query(ctx=console.ctx, collection=name, query=parse_query(body))
    except ApplicationError as exc:
        special, error, status = _failed(request, console, exc)
        if special is not None:
            return special
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "name": name,
        "documents": [_row(document_selectors.document_json(d)) for d in page_of.documents] if page_of else [],
        "next_cursor": page_of.next_cursor if page_of else None,
        "params": params.urlencode(),
        "rows": rows or [{"field": "", "op": "==", "value": ""} for _ in range(FILTER_ROWS)],
        "ops": COMPARISON_OPS,
        "order": request.GET.get("order", ""),
        "direction": request.GET.get("direction", "asc"),
        "limit": body.get("limit", 20),
        "query_json": pretty({k: v for k, v in body.items() if k != "cursor"}),
        "error": error,
        "section": "collections",
    }
    return page(request, console, "dashboard/documents.html", context, status=status)


@project_page()
def document_new(request: HttpRequest, console: Console, name: str) -> HttpResponse:
    values = {"doc_id": "", "data": "{\n  \n}"}
    error = None
    status = 200
    if request.method == "POST":
        values = {"doc_id": request.POST.get("doc_id", "").strip(), "data": request.POST.get("data", "")}
        try:
            data = json_field(values["data"], "data", allow_empty=False)
            if values["doc_id"]:
                result = document_services.document_set(ctx=console.ctx, collection=name, doc_id=values["doc_id"], data=data, create_only=True)
            else:
                result = document_services.document_create(ctx=console.ctx, collection=name, data=data)
        except ApplicationError as exc:
            special, error, status = _failed(request, console, exc)
            if special is not None:
                return special
        else:
            console_services.audit_record(project=console.project, actor=request.user, action="document.create", target=f"{name}/{result.doc_id}")
            return redirect("dashboard:document", project_id=console.project.id, name=name, doc_id=result.doc_id)
    context = {"name": name, "values": values, "error": error, "section": "collections"}
    return page(request, console, "dashboard/document_new.html", context, status=status)


@project_page()
def document(request: HttpRequest, console: Console, name: str, doc_id: str) -> HttpResponse:
    """Edit as JSON (replaces the data; the version guards against lost updates) or delete."""
    error = None
    status = 200
    saved = False
    text = None
    try:
        stored = document_selectors.document_get(ctx=console.ctx, collection=name, doc_id=doc_id)
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=404)
    if request.method == "POST":
        try:
            raw_version = request.POST.get("version", "").strip()
            version = document_services.parse_version(int(raw_version) if raw_version.isdigit() else None, field="version")
            if request.POST.get("action") == "delete":
                document_services.document_delete(ctx=console.ctx, collection=name, doc_id=doc_id, if_version=version)
                console_services.audit_record(project=console.project, actor=request.user, action="document.delete", target=f"{name}/{doc_id}")
                return redirect("dashboard:documents", project_id=console.project.id, name=name)
            text = request.POST.get("data", "")
            data = json_field(text, "data", allow_empty=False)
            result = document_services.document_set(ctx=console.ctx, collection=name, doc_id=doc_id, data=data, if_version=version)
        except ApplicationError as exc:
            special, error, status = _failed(request, console, exc)
            if special is not None:
                return special
        else:
            console_services.audit_record(project=console.project, actor=request.user, action="document.update", target=f"{name}/{doc_id}", details={"version": result.version})
            stored = result.document or stored
            saved = True
            text = None
    current = document_selectors.document_json(stored)
    context = {
        "name": name, "document": current, "text": text if text is not None else pretty(current["data"]),
        "error": error, "saved": saved, "section": "collections",
    }
    return page(request, console, "dashboard/document.html", context, status=status)
