"""OpenAPI shapes of buckets and objects (SPEC.md §Storage). The object calls are served
by ``StorageApp`` (storage/http.py), which DRF's schema generator cannot see: they are
written out here as plain OpenAPI and merged by baas.openapi."""

from __future__ import annotations

from typing import Any

from baas.api.schema import (
    CURSOR,
    INTEGER,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    array,
    component,
    nullable,
    obj,
    raw_errors,
)

BUCKET_FIELDS = {
    "maxFileSize": {"type": "integer", "minimum": 1, "description": "Bytes."},
    "allowedContentTypes": {**STRING_LIST, "description": "Patterns such as `image/*`; empty allows every type."},
    "rules": obj({}, additionalProperties=STRING, description="CEL per operation: get, list, create, update, delete, read, write."),
}
BUCKET = component(
    "Bucket",
    obj(
        {"name": STRING, "maxFileSize": INTEGER, "allowedContentTypes": STRING_LIST, "rules": obj({}, additionalProperties=STRING),
         "createTime": TIMESTAMP, "updateTime": TIMESTAMP},
        ["name", "maxFileSize", "allowedContentTypes", "rules", "createTime", "updateTime"],
    ),
)  # fmt: skip
BUCKET_CREATE = component("BucketCreate", obj({"name": STRING, **BUCKET_FIELDS}, ["name"], additionalProperties=False))
BUCKET_UPDATE = component("BucketUpdate", obj(BUCKET_FIELDS, additionalProperties=False))
BUCKET_LIST = component("BucketList", obj({"buckets": array(BUCKET)}, ["buckets"]))
STORAGE_USAGE = component("StorageUsage", obj({"bytes": INTEGER, "objects": INTEGER}, ["bytes", "objects"]))
OBJECT = component(
    "StorageObject",
    obj(
        {"bucket": STRING, "path": STRING, "size": INTEGER, "contentType": STRING,
         "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "metadata": obj({}, additionalProperties=STRING),
         "owner": nullable(STRING), "createTime": TIMESTAMP, "updateTime": TIMESTAMP},
        ["bucket", "path", "size", "contentType", "sha256", "metadata", "owner", "createTime", "updateTime"],
    ),
)  # fmt: skip
OBJECT_LIST = component(
    "StorageObjectList",
    obj({"objects": array(OBJECT), "prefixes": STRING_LIST, "nextCursor": CURSOR}, ["objects", "prefixes", "nextCursor"]),
)
SIGN_REQUEST = component("ObjectSignRequest", obj({"expiresIn": {"type": "integer", "minimum": 1, "default": 3600}}, additionalProperties=False))
SIGNED_URL = component(
    "SignedUrl",
    obj({"url": STRING, "expireTime": TIMESTAMP, "directUrl": {**STRING, "description": "Straight from S3, when presigned downloads are on."}},
        ["url", "expireTime"]),
)  # fmt: skip
DIRECT_UPLOAD_REQUEST = component(
    "DirectUploadRequest",
    obj({"size": INTEGER, "sha256": STRING, "contentType": STRING, "metadata": obj({}, additionalProperties=STRING),
         "owner": STRING, "expiresIn": INTEGER}, ["size"], additionalProperties=False),
)  # fmt: skip
DIRECT_UPLOAD = component(
    "DirectUpload",
    obj({"method": STRING, "url": STRING, "fields": obj({}, additionalProperties=STRING), "fileField": STRING,
         "expireTime": TIMESTAMP, "upload": STRING}, ["method", "url", "fields", "fileField", "expireTime", "upload"]),
)  # fmt: skip
FINALIZE_REQUEST = component("DirectUploadFinalize", obj({"upload": STRING}, ["upload"], additionalProperties=False))
MULTIPART_UPLOAD = component(
    "MultipartUpload",
    obj(
        {"path": STRING, "file": {"type": "string", "format": "binary", "description": "The bytes, with their own Content-Type."},
         "metadata": {**STRING, "description": "A JSON object of strings."}, "owner": {**STRING, "description": "Secret keys only."}},
        ["path", "file"],
    ),
)  # fmt: skip

_PATH_PARAMS = [{"name": name, "in": "path", "required": True, "schema": STRING} for name in ("project_id", "bucket")]
_WITH_PATH = _PATH_PARAMS + [{"name": "path", "in": "path", "required": True, "schema": STRING,
                              "description": "The object path; may contain '/' (percent-encode anything else)."}]  # fmt: skip
_ETAG = {"ETag": {"description": 'The sha256 of the bytes, quoted.', "schema": STRING}}


def _query(name: str, description: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _header(name: str, description: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": schema, "description": description}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _operation(operation_id: str, summary: str, parameters: list[dict[str, Any]], ok: dict[str, Any], errors: tuple[int, ...],
               body: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["storage"],
        "parameters": parameters,
        "responses": {**ok, **raw_errors(401, 429, *errors)},
        "security": [{"ApiKey": []}],
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


_BINARY = {"type": "string", "format": "binary"}
_BYTES_HEADERS = {
    **_ETAG,
    "Content-Length": {"schema": INTEGER},
    "Accept-Ranges": {"schema": STRING},
    "X-Baas-Meta-*": {"description": "One header per custom metadata key (values percent-encoded UTF-8).", "schema": STRING},
}
_META_DESCRIPTION = (
    "Custom metadata: one `X-Baas-Meta-<key>: <value>` header per key (values percent-encoded UTF-8); "
    "`X-Baas-Owner` sets the owner (secret keys). The request's Content-Type is stored as the object's."
)


def openapi_paths() -> dict[str, Any]:
    """The object calls. ``{path}`` may hold slashes."""
    base = "/v1/projects/{project_id}/buckets/{bucket}/objects"
    return {
        base: {
            "get": _operation(
                "objects_list", "List objects (prefix, delimiter, cursor)",
                _PATH_PARAMS + [
                    _query("prefix", "Only paths starting with this."),
                    _query("delimiter", "Usually `/`: group deeper paths into `prefixes`."),
                    _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _query("cursor", "The `nextCursor` of the previous page."),
                ],
                {"200": _json(OBJECT_LIST, "A page")}, (400, 403, 404),
            ),
            "post": _operation(
                "objects_upload_multipart", "Upload with multipart/form-data (fields path, metadata, owner, file)", _PATH_PARAMS,
                {"201": _json(OBJECT, "Created", _ETAG), "200": _json(OBJECT, "Replaced", _ETAG)},
                (400, 403, 404, 413, 415), body={"multipart/form-data": {"schema": MULTIPART_UPLOAD}},
            ),
        },
        base + "/{path}": {
            "get": _operation(
                "object_download", "Download (Range, If-None-Match); ?meta=1 for the metadata",
                _WITH_PATH + [
                    _query("meta", "`1`: answer the metadata as JSON instead of the bytes.", {"type": "string", "enum": ["1", "true"]}),
                    _query("expires", "Signed URLs only (from `:sign`)."),
                    _query("signature", "Signed URLs only (from `:sign`)."),
                    _header("Range", "One `bytes=first-last` range: 206."),
                    _header("If-Range", "The ETag: serve the range only if unchanged."),
                    _header("If-None-Match", "The ETag you hold: 304 when unchanged."),
                ],
                {
                    "200": {"description": "The bytes (or the metadata with ?meta=1)", "headers": _BYTES_HEADERS,
                            "content": {"application/octet-stream": {"schema": _BINARY}, "application/json": {"schema": OBJECT}}},
                    "206": {"description": "A range", "headers": {**_BYTES_HEADERS, "Content-Range": {"schema": STRING}},
                            "content": {"application/octet-stream": {"schema": _BINARY}}},
                    "304": {"description": "Not modified", "headers": _ETAG},
                    "416": _json({"$ref": "#/components/schemas/Error"}, "Range not satisfiable (Content-Range: bytes */size)"),
                },
                (400, 403, 404),
                description="The Content-Type is the object's; active content (HTML, SVG) comes as an attachment.",
            ),
            "head": _operation(
                "object_head", "The download's headers", _WITH_PATH,
                {"200": {"description": "Headers only", "headers": _BYTES_HEADERS}}, (400, 403, 404),
            ),
            "put": _operation(
                "object_upload", "Upload the raw body",
                _WITH_PATH + [
                    _header("If-None-Match", "`*`: create only (409 when it exists)."),
                    _header("If-Match", "The ETag (sha256) the stored object must have: else 412."),
                    _header("X-Baas-Owner", "The owner's uid (secret keys)."),
                ],
                {"201": _json(OBJECT, "Created", _ETAG), "200": _json(OBJECT, "Replaced", _ETAG)},
                (400, 403, 404, 409, 412, 413, 415),
                body={"application/octet-stream": {"schema": _BINARY}}, description=_META_DESCRIPTION,
            ),
            "delete": _operation("object_delete", "Delete", _WITH_PATH, {"204": {"description": "Deleted"}}, (400, 403, 404)),
        },
        base + "/{path}:sign": {
            "post": _operation(
                "object_sign", "A signed download URL", _WITH_PATH, {"200": _json(SIGNED_URL, "The URL")}, (400, 403, 404, 415),
                body={"application/json": {"schema": SIGN_REQUEST}},
            ),
        },
        base + "/{path}:upload": {
            "post": _operation(
                "object_direct_upload_start", "Start a presigned direct upload to S3", _WITH_PATH,
                {"200": _json(DIRECT_UPLOAD, "A presigned POST form")}, (400, 403, 404, 412, 413, 415),
                body={"application/json": {"schema": DIRECT_UPLOAD_REQUEST}},
            ),
        },
        base + "/{path}:finalize": {
            "post": _operation(
                "object_direct_upload_finalize", "Record a direct upload once the object exists", _WITH_PATH,
                {"201": _json(OBJECT, "Created", _ETAG), "200": _json(OBJECT, "Replaced or already finalized", _ETAG)},
                (400, 403, 404, 409, 412, 413, 415), body={"application/json": {"schema": FINALIZE_REQUEST}},
            ),
        },
    }  # fmt: skip
