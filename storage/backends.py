"""Where object bytes live: the local filesystem (embedded) or any S3-compatible service.

Both backends stream in both directions with bounded memory, and both write through a
``BlobWriter`` whose bytes become visible only on ``commit()``; ``abort()`` (a failed
check, a client that went away) leaves nothing behind. Keys are built by the services
from trusted parts and always begin with the project's own prefix
(``projects/<project id>/``), so two projects never share a key space.

django-storages was considered for S3: its ``S3Storage`` writes through a spooled
temporary file and has no ranged reads, and its name de-duplication is not wanted here
(keys are random), so boto3 is used directly; it is what django-storages wraps anyway.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

DOWNLOAD_READ_SIZE = 8 * 1024 * 1024
_KEY = re.compile(r"^projects/[a-z][a-z0-9-]{2,39}/[0-9]+/[0-9a-f]{32}$")


def project_prefix(project_id: str) -> str:
    return f"projects/{project_id}/"


def key_check(key: str) -> str:
    """Keys are made by the services only; anything else is a bug, never a path."""
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class BlobWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Backend(Protocol):
    name: str

    def writer(self, key: str, *, content_type: str) -> BlobWriter: ...
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...
    def stale_uploads_abort(self, older_than: float) -> int: ...
    def keys(self, prefix: str) -> list[str]: ...
    def presigned_url(
        self, key: str, *, method: str, expires_in: int, content_type: str | None = None, disposition: str | None = None
    ) -> str | None: ...


# --- local filesystem ---------------------------------------------------------------------


class LocalWriter:
    def __init__(self, backend: LocalBackend, key: str) -> None:
        self.final = backend.path_of(key)
        incoming = backend.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
        self.temp = Path(name)
        self.file = os.fdopen(handle, "wb", buffering=0)

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.temp, self.final)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.temp.unlink(missing_ok=True)


class FileSpan:
    """A byte range of an open file, iterated chunk by chunk (and closed at the end).

    Reads are ``DOWNLOAD_READ_SIZE`` (at least the chunk size): profiling a 256 MB
    download showed the per-chunk hop between the read thread and the event loop as the
    cost that grows with the chunk count; fewer, larger chunks cost a few MiB more per
    download in flight. ``pread`` keeps no file position to seek."""

    def __init__(self, file: Any, offset: int, count: int, read_size: int) -> None:
        self.file = file
        self.offset = offset
        self.count = count
        self.read_size = read_size
        self._position = offset
        self._end = offset + count

    def fileno(self) -> int:
        return self.file.fileno()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._position >= self._end or self.file.closed:
            self.close()
            raise StopIteration
        chunk = os.pread(self.file.fileno(), min(self.read_size, self._end - self._position), self._position)
        if not chunk:  # the file shrank under us: end here, the length check tells the client
            self.close()
            raise StopIteration
        self._position += len(chunk)
        return chunk

    def close(self) -> None:
        self.file.close()


class LocalBackend:
    """Files under ``BAAS_STORAGE_LOCAL_DIR``; uploads are written beside them in
    ``.incoming/`` and renamed into place, so a file is either whole or absent."""

    name = "local"

    def __init__(self, root: Path, chunk_size: int) -> None:
        self.root = root
        self.chunk_size = chunk_size

    def path_of(self, key: str) -> Path:
        key_check(key)
        project, bucket, blob = key.removeprefix("projects/").split("/")
        return self.root / project / bucket / blob[:2] / blob

    def writer(self, key: str, *, content_type: str) -> LocalWriter:
        return LocalWriter(self, key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> FileSpan:
        """Bytes ``start``..``end`` (inclusive; None = to the end) of the stored file.

        The span iterates in chunks for any transport, and also exposes the open file,
        offset and length, so a server that can hand a file to the kernel
        (``storage/sendfile.py``) sends it without copying it through the process."""
        file = self.path_of(key).open("rb", buffering=0)
        try:
            size = os.fstat(file.fileno()).st_size
        except BaseException:
            file.close()
            raise
        last = size - 1 if end is None else min(end, size - 1)
        return FileSpan(file, start, max(0, last - start + 1), max(self.chunk_size, DOWNLOAD_READ_SIZE))

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Every stored key under ``prefix`` (tests and operators' checks)."""
        found = []
        for path in self.root.glob("*/*/*/*"):
            project, bucket, _, blob = path.relative_to(self.root).parts
            key = f"projects/{project}/{bucket}/{blob}"
            if key.startswith(prefix):
                found.append(key)
        return sorted(found)

    def incoming(self) -> list[Path]:
        directory = self.root / ".incoming"
        return sorted(directory.iterdir()) if directory.exists() else []

    def stale_uploads_abort(self, older_than: float) -> int:
        """Remove upload files last written before ``older_than`` (epoch seconds): what a
        crashed server left in ``.incoming/`` (a live upload writes at least every idle timeout)."""
        removed = 0
        for path in self.incoming():
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # finished or aborted meanwhile
                pass
        return removed

    def presigned_url(
        self, key: str, *, method: str, expires_in: int, content_type: str | None = None, disposition: str | None = None
    ) -> str | None:
        return None


# --- S3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    prefix: str
    addressing_style: str
    part_size: int
    chunk_size: int

    def __repr__(self) -> str:  # never print the secret
        return f"S3Config(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, prefix={self.prefix!r})"


class S3Writer:
    """Parts of ``part_size`` go up as they fill (multipart upload); an object smaller
    than one part is a single PUT. Memory: one part buffer."""

    def __init__(self, backend: S3Backend, key: str, content_type: str) -> None:
        self.backend, self.key, self.content_type = backend, backend.object_key(key), content_type
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= self.backend.config.part_size:
            self._flush_part()

    def _flush_part(self) -> None:
        client, bucket = self.backend.client, self.backend.config.bucket
        if self.upload_id is None:
            created = client.create_multipart_upload(Bucket=bucket, Key=self.key, ContentType=self.content_type)
            self.upload_id = created["UploadId"]
        number = len(self.parts) + 1
        try:
            answer = client.upload_part(
                Bucket=bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buffer)
            )
        except BaseException:
            self.abort()
            raise
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.buffer = bytearray()

    def commit(self) -> None:
        client, bucket = self.backend.client, self.backend.config.bucket
        try:
            if self.upload_id is None:
                client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self.buffer), ContentType=self.content_type)
            else:
                if self.buffer:
                    self._flush_part()
                client.complete_multipart_upload(
                    Bucket=bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
                )
        except BaseException:
            self.abort()
            raise
        self.buffer = bytearray()

    def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            self.backend.client.abort_multipart_upload(Bucket=self.backend.config.bucket, Key=self.key, UploadId=upload_id)


class S3Backend:
    name = "s3"

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.session.Session().client(
                        "s3",
                        endpoint_url=self.config.endpoint_url,
                        region_name=self.config.region,
                        aws_access_key_id=self.config.access_key_id,
                        aws_secret_access_key=self.config.secret_access_key,
                        config=Config(
                            signature_version="s3v4",
                            s3={"addressing_style": self.config.addressing_style},
                            retries={"max_attempts": 3, "mode": "standard"},
                            max_pool_connections=64,
                        ),
                    )
        return self._client

    def object_key(self, key: str) -> str:
        return self.config.prefix + key_check(key)

    def writer(self, key: str, *, content_type: str) -> S3Writer:
        return S3Writer(self, key, content_type)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        arguments: dict[str, Any] = {"Bucket": self.config.bucket, "Key": self.object_key(key)}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(**arguments)["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(self.config.chunk_size)
            finally:
                body.close()

        return chunks()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.config.bucket, Key=self.object_key(key))

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.config.bucket, Prefix=self.config.prefix + prefix):
            found.extend(item["Key"].removeprefix(self.config.prefix) for item in page.get("Contents", []))
        return sorted(found)

    def pending_uploads(self, prefix: str) -> list[str]:
        answer = self.client.list_multipart_uploads(Bucket=self.config.bucket, Prefix=self.config.prefix + prefix)
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def stale_uploads_abort(self, older_than: float) -> int:
        """Abort multipart uploads begun before ``older_than`` (epoch seconds) under our
        prefix: parts a crashed server left behind, which S3 keeps (and bills) forever."""
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.config.bucket, Prefix=self.config.prefix + "projects/"):
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < older_than:
                    self.client.abort_multipart_upload(Bucket=self.config.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
        return aborted

    def presigned_url(
        self, key: str, *, method: str, expires_in: int, content_type: str | None = None, disposition: str | None = None
    ) -> str | None:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        params: dict[str, Any] = {"Bucket": self.config.bucket, "Key": self.object_key(key)}
        if method == "PUT" and content_type is not None:
            params["ContentType"] = content_type
        if method == "GET":
            # S3 answers with these headers, so a direct download is served as ours is.
            if content_type is not None:
                params["ResponseContentType"] = content_type
            if disposition is not None:
                params["ResponseContentDisposition"] = disposition
        return str(self.client.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in))

    def presigned_post(self, key: str, *, content_type: str, size: int, expires_in: int) -> dict[str, Any]:
        """A browser-style POST form that S3 accepts only for this key, this exact size and
        this Content-Type, until it expires: the limits hold without the bytes passing here."""
        fields = {"Content-Type": content_type}
        conditions: list[Any] = [{"Content-Type": content_type}, ["content-length-range", size, size]]
        answer = self.client.generate_presigned_post(
            self.config.bucket, self.object_key(key), Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        return {"url": str(answer["url"]), "fields": dict(answer["fields"])}

    def head(self, key: str) -> dict[str, Any] | None:
        """Size, type and write time of a stored object; None when there is none."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.head_object(Bucket=self.config.bucket, Key=self.object_key(key))
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (403, 404) or error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return {"size": int(answer["ContentLength"]), "content_type": answer.get("ContentType") or "", "last_modified": answer["LastModified"]}


# --- selection ----------------------------------------------------------------------------

_backends: dict[tuple[Any, ...], Backend] = {}
_backends_lock = threading.Lock()


def s3_config() -> S3Config:
    return S3Config(
        bucket=settings.BAAS_S3_BUCKET,
        endpoint_url=settings.BAAS_S3_ENDPOINT_URL or None,
        region=settings.BAAS_S3_REGION,
        access_key_id=settings.BAAS_S3_ACCESS_KEY_ID or None,
        secret_access_key=settings.BAAS_S3_SECRET_ACCESS_KEY or None,
        prefix=settings.BAAS_S3_PREFIX,
        addressing_style=settings.BAAS_S3_ADDRESSING_STYLE,
        part_size=settings.BAAS_S3_PART_SIZE,
        chunk_size=settings.BAAS_STORAGE_CHUNK_SIZE,
    )


def backend_get() -> Backend:
    """The configured backend (one per process and configuration)."""
    if settings.BAAS_STORAGE == "s3":
        config = s3_config()
        identity: tuple[Any, ...] = ("s3", config)
    else:
        identity = ("local", str(settings.BAAS_STORAGE_LOCAL_DIR), settings.BAAS_STORAGE_CHUNK_SIZE)
    backend = _backends.get(identity)
    if backend is None:
        with _backends_lock:
            backend = _backends.get(identity)
            if backend is None:
                if identity[0] == "s3":
                    backend = S3Backend(config)
                else:
                    backend = LocalBackend(Path(settings.BAAS_STORAGE_LOCAL_DIR), settings.BAAS_STORAGE_CHUNK_SIZE)
                _backends[identity] = backend
    return backend
