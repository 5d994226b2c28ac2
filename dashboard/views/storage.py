"""Storage: buckets, a file browser with folders, upload, download, delete, usage."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from baas.api.errors import ApplicationError, InvalidArgument
from dashboard import services as console_services
from dashboard.access import Console, project_page
from dashboard.views.common import answer_error, error_info, error_status, page
from storage import selectors, services
from storage.backends import backend_get
from storage.validation import content_disposition


@project_page()
def buckets(request: HttpRequest, console: Console) -> HttpResponse:
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        name = request.POST.get("name", "").strip()
        try:
            if action == "create":
                data: dict[str, object] = {"name": name}
                size = request.POST.get("max_file_size", "").strip()
                if size:
                    if not size.isdigit():
                        raise InvalidArgument("The largest file is a number of bytes.", details={"field": "maxFileSize"})
                    data["maxFileSize"] = int(size)
                types = [t.strip() for t in request.POST.get("allowed_content_types", "").split(",") if t.strip()]
                if types:
                    data["allowedContentTypes"] = types
                services.bucket_create(ctx=console.ctx, data=data)
                console_services.audit_record(project=console.project, actor=request.user, action="bucket.create", target=name)
            elif action == "delete":
                services.bucket_delete(ctx=console.ctx, name=name)
                console_services.audit_record(project=console.project, actor=request.user, action="bucket.delete", target=name)
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None and action != "delete":
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect("dashboard:buckets", project_id=console.project.id)
    context = {
        "buckets": [selectors.bucket_json(b) for b in selectors.buckets_list(ctx=console.ctx)],
        "usage": selectors.usage_get(ctx=console.ctx),
        "error": error,
        "section": "storage",
    }
    return page(request, console, "dashboard/buckets.html", context, status=status)


def _browser_url(console: Console, bucket: str, prefix: str) -> str:
    url = reverse("dashboard:files", kwargs={"project_id": console.project.id, "bucket": bucket})
    return f"{url}?{urlencode({'prefix': prefix})}" if prefix else url


@project_page()
def files(request: HttpRequest, console: Console, bucket: str) -> HttpResponse:
    """A folder of a bucket ('/' separates folders); POST uploads a file into it (the page's
    script sends it with progress and reads the JSON answer) or deletes one."""
    prefix = request.GET.get("prefix", "")
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "upload")
        try:
            if action == "upload":
                upload = request.FILES.get("file")
                if upload is None:
                    raise InvalidArgument("Choose a file to upload.", details={"field": "file"})
                path = (request.POST.get("prefix", prefix) or "") + (request.POST.get("name") or upload.name)
                options = services.upload_options(ctx=console.ctx, content_type=upload.content_type or "application/octet-stream", metadata=None)
                _, row = services.object_upload(
                    ctx=console.ctx, bucket_name=bucket, path=path, stream=upload, declared_size=upload.size, options=options
                )
                console_services.audit_record(project=console.project, actor=request.user, action="file.upload", target=f"{bucket}/{row.path}", details={"size": row.size})
                if wants_json:
                    return JsonResponse(selectors.object_json(row, bucket), status=201)
            elif action == "delete":
                path = request.POST.get("path", "")
                if not services.object_delete(ctx=console.ctx, bucket_name=bucket, path=path):
                    raise InvalidArgument(f"No file {path!r} to delete.", details={"field": "path"})
                console_services.audit_record(project=console.project, actor=request.user, action="file.delete", target=f"{bucket}/{path}")
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            if wants_json:
                return JsonResponse(exc.as_dict(), status=error_status(exc))
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect(_browser_url(console, bucket, prefix))
    try:
        bucket_row = selectors.bucket_access(ctx=console.ctx, name=bucket)
        listing = selectors.objects_list(
            ctx=console.ctx, bucket_name=bucket, prefix=prefix, delimiter="/", limit=200, cursor=request.GET.get("cursor") or None
        )
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=404)
    crumbs = []
    walked = ""
    for part in [p for p in prefix.split("/") if p]:
        walked += part + "/"
        crumbs.append({"name": part, "url": _browser_url(console, bucket, walked)})
    context = {
        "bucket": selectors.bucket_json(bucket_row),
        "prefix": prefix,
        "crumbs": crumbs,
        "folders": [{"name": f[len(prefix):], "url": _browser_url(console, bucket, f)} for f in listing.prefixes],
        "objects": [{**selectors.object_json(o, bucket), "name": o.path[len(prefix):]} for o in listing.objects],
        "next_cursor": listing.next_cursor,
        "error": error,
        "section": "storage",
    }
    return page(request, console, "dashboard/files.html", context, status=status)


@project_page()
def download(request: HttpRequest, console: Console, bucket: str) -> HttpResponse:
    try:
        _, row = selectors.object_get(ctx=console.ctx, bucket_name=bucket, path=request.GET.get("path", ""))
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=error_status(exc))
    stream = backend_get().read(row.blob_key) if row.size else iter(())
    response = StreamingHttpResponse(stream, content_type=row.content_type)
    response["Content-Length"] = str(row.size)
    disposition = content_disposition(row.path, row.content_type)
    response["Content-Disposition"] = "attachment" + disposition[disposition.index(";"):]  # always save, never open
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
