"""Python client for baas: ``Client`` (blocking) and ``AsyncClient`` (asyncio)."""

from __future__ import annotations

from baas_client.client import AsyncClient, Client
from baas_client.documents import (
    Batch,
    CollectionRef,
    Document,
    DocumentRef,
    Query,
    QueryPage,
    WriteResult,
    and_,
    array_remove,
    array_union,
    delete_field,
    increment,
    maximum,
    minimum,
    or_,
    server_timestamp,
    where,
)
from baas_client.errors import (
    Aborted,
    AlreadyExists,
    BaasError,
    DeadlineExceeded,
    FailedPrecondition,
    FunctionError,
    Internal,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RangeNotSatisfiable,
    ResourceExhausted,
    ResumeExpired,
    TransportError,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from baas_client.realtime import RealtimeDocument, RealtimeEvent, Subscription
from baas_client.session import FileTokenStore, MemoryTokenStore, Session, TokenStore
from baas_client.storage import Bucket, ObjectList, SignedUrl, StoredObject

__version__ = "0.1.0"

__all__ = [
    "Aborted", "AlreadyExists", "AsyncClient", "BaasError", "Batch", "Bucket", "Client", "CollectionRef",
    "DeadlineExceeded", "Document", "DocumentRef", "FailedPrecondition", "FileTokenStore", "FunctionError",
    "Internal", "InvalidArgument", "MemoryTokenStore", "MethodNotAllowed", "NotFound", "ObjectList",
    "PayloadTooLarge", "PermissionDenied", "Query", "QueryPage", "RangeNotSatisfiable", "RealtimeDocument",
    "RealtimeEvent", "ResourceExhausted", "ResumeExpired", "Session", "SignedUrl", "StoredObject",
    "Subscription", "TokenStore", "TransportError", "Unauthenticated", "Unavailable", "UnsupportedMediaType",
    "WriteResult", "and_", "array_remove", "array_union", "delete_field", "increment", "maximum", "minimum",
    "or_", "server_timestamp", "where",
]
