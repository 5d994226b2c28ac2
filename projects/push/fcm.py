"""firebase-admin behind one small surface: validate a service account, keep one App per
project (per worker process), turn our JSON into ``messaging.Message`` objects, and send
a batch with every token's outcome classified.

Apps are named ``baas-push:<project>:<credential digest>`` (App names are global to
the process): uploading a new credential makes a new App and the stale one is deleted.

``BAAS_FCM_ENDPOINT`` (tests, a development fake) points both the FCM send URL and the
OAuth token exchange at another server; unset, firebase-admin talks to Google.
"""

from __future__ import annotations

import datetime
import re
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import firebase_admin
import requests
from django.conf import settings
from firebase_admin import credentials, exceptions, messaging
from urllib3.util import retry

from baas.api.errors import InvalidArgument

GOOGLE_TOKEN_URIS = frozenset({
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
})
REQUIRED_FIELDS = ("type", "project_id", "private_key", "client_email")
MAX_BATCH = 500  # send_each's own ceiling

# A connection that failed to open is retried (nothing was sent); a 5xx or a read timeout
# is not: our task retries those with backoff, so a token is never sent twice by a hidden retry.
_NO_HIDDEN_RETRIES = retry.Retry(total=None, connect=1, read=0, status=0, other=0, redirect=0,
                                 raise_on_status=False, allowed_methods=None)


def service_account_check(raw: Any) -> dict[str, Any]:
    """The parsed service account, refused with a 400 unless firebase-admin can use it."""
    import orjson

    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidArgument("'serviceAccount' is not valid JSON.", details={"field": "serviceAccount"}) from None
    if not isinstance(raw, dict):
        raise InvalidArgument("'serviceAccount' must be the service account JSON object.", details={"field": "serviceAccount"})
    missing = [name for name in REQUIRED_FIELDS if not isinstance(raw.get(name), str) or not raw.get(name)]
    if missing:
        raise InvalidArgument(f"The service account lacks: {', '.join(missing)}.", details={"missing": missing})
    if raw["type"] != "service_account":
        raise InvalidArgument("'type' must be 'service_account'.", details={"field": "type"})
    token_uri = raw.get("token_uri", "https://oauth2.googleapis.com/token")
    if token_uri not in GOOGLE_TOKEN_URIS:
        # The worker posts a signed assertion there: only Google's own token endpoint.
        raise InvalidArgument("'token_uri' must be Google's OAuth token endpoint.", details={"field": "token_uri"})
    info = {**raw, "token_uri": token_uri}
    try:
        credentials.Certificate(info)  # parses the private key
    except (ValueError, TypeError) as error:
        raise InvalidArgument("The service account's private key could not be read.", details={"reason": type(error).__name__}) from None
    return info


# --- one App per project ------------------------------------------------------------------

_apps: dict[str, firebase_admin.App] = {}
_lock = threading.Lock()


def messaging_app(project_id: str, version: str, info: dict[str, Any]) -> firebase_admin.App:
    """The project's App for this stored credential, built on first use in this process.

    ``version`` names the stored credential (a digest of its sealed form): a new upload,
    or a delete and upload, gives a new name, so no process keeps using an old key.
    """
    name = f"baas-push:{project_id}:{version}"
    app = _apps.get(project_id)
    if app is not None and app.name == name:
        return app
    with _lock:
        app = _apps.get(project_id)
        if app is not None and app.name == name:
            return app
        if app is not None:
            firebase_admin.delete_app(app)
            del _apps[project_id]
        endpoint = settings.BAAS_FCM_ENDPOINT
        if endpoint:
            info = {**info, "token_uri": f"{endpoint}/token"}
        app = firebase_admin.initialize_app(
            credentials.Certificate(info),
            options={"projectId": info["project_id"], "httpTimeout": settings.BAAS_PUSH_HTTP_TIMEOUT},
            name=name,
        )
        service = messaging._get_messaging_service(app)
        base = endpoint or "https://fcm.googleapis.com"
        if endpoint:
            service._fcm_url = f"{endpoint}/v1/projects/{info['project_id']}/messages:send"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=MAX_BATCH, max_retries=_NO_HIDDEN_RETRIES)
        service._client.session.mount(base, adapter)
        _apps[project_id] = app
        return app


def messaging_app_drop(project_id: str) -> None:
    with _lock:
        app = _apps.pop(project_id, None)
        if app is not None:
            firebase_admin.delete_app(app)


# --- our JSON -> messaging objects ---------------------------------------------------------

Spec = tuple[type, dict[str, Any]]
_PLAIN = None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_ANDROID_NOTIFICATION: Spec = (messaging.AndroidNotification, dict.fromkeys((
    "title", "body", "icon", "color", "sound", "tag", "clickAction", "bodyLocKey", "bodyLocArgs", "titleLocKey",
    "titleLocArgs", "channelId", "image", "ticker", "sticky", "localOnly", "priority", "defaultSound",
    "notificationCount", "visibility")))
_ANDROID: Spec = (messaging.AndroidConfig, {
    **dict.fromkeys(("collapseKey", "priority", "ttl", "restrictedPackageName", "data", "directBootOk")),
    "notification": _ANDROID_NOTIFICATION,
    "fcmOptions": (messaging.AndroidFCMOptions, {"analyticsLabel": _PLAIN}),
})
_WEBPUSH: Spec = (messaging.WebpushConfig, {
    "headers": _PLAIN,
    "data": _PLAIN,
    "notification": (messaging.WebpushNotification, {
        **dict.fromkeys(("title", "body", "icon", "badge", "image", "language", "renotify", "requireInteraction",
                         "silent", "tag", "timestampMillis", "vibrate", "direction", "data")),
        "actions": [(messaging.WebpushNotificationAction, dict.fromkeys(("action", "title", "icon")))],
    }),
    "fcmOptions": (messaging.WebpushFCMOptions, {"link": _PLAIN}),
})
_APS_ALERT: Spec = (messaging.ApsAlert, dict.fromkeys((
    "title", "subtitle", "body", "locKey", "locArgs", "titleLocKey", "titleLocArgs", "actionLocKey", "launchImage")))
_APS: Spec = (messaging.Aps, {
    **dict.fromkeys(("badge", "sound", "contentAvailable", "category", "threadId", "mutableContent", "customData")),
    "alert": _APS_ALERT,
})
_APNS_OPTIONS: Spec = (messaging.APNSFCMOptions, {"analyticsLabel": _PLAIN, "image": _PLAIN})
_NOTIFICATION: Spec = (messaging.Notification, dict.fromkeys(("title", "body", "image")))


def _build(spec: Spec, value: Any, where: str) -> Any:
    cls, fields = spec
    if not isinstance(value, dict):
        raise InvalidArgument(f"'{where}' must be an object.", details={"field": where})
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise InvalidArgument(f"Unknown fields in '{where}': {', '.join(unknown)}.", details={"field": where, "unknown": unknown})
    kwargs: dict[str, Any] = {}
    for name, item in value.items():
        sub = fields[name]
        path = f"{where}.{name}"
        if sub is None or item is None:
            kwargs[_snake(name)] = item
        elif isinstance(sub, list):
            if not isinstance(item, list):
                raise InvalidArgument(f"'{path}' must be a list.", details={"field": path})
            kwargs[_snake(name)] = [_build(sub[0], entry, f"{path}[{i}]") for i, entry in enumerate(item)]
        elif sub is _APS_ALERT and isinstance(item, str):
            kwargs[_snake(name)] = item
        else:
            kwargs[_snake(name)] = _build(sub, item, path)
    return cls(**kwargs)


def _apns(value: Any) -> messaging.APNSConfig:
    if not isinstance(value, dict):
        raise InvalidArgument("'apns' must be an object.", details={"field": "apns"})
    unknown = sorted(set(value) - {"headers", "payload", "fcmOptions"})
    if unknown:
        raise InvalidArgument(f"Unknown fields in 'apns': {', '.join(unknown)}.", details={"field": "apns", "unknown": unknown})
    payload = None
    if value.get("payload") is not None:
        raw = value["payload"]
        if not isinstance(raw, dict) or not isinstance(raw.get("aps"), dict):
            raise InvalidArgument("'apns.payload' must be an object with 'aps'.", details={"field": "apns.payload"})
        custom = {k: v for k, v in raw.items() if k != "aps"}
        payload = messaging.APNSPayload(_build(_APS, raw["aps"], "apns.payload.aps"), **custom)
    options = _build(_APNS_OPTIONS, value["fcmOptions"], "apns.fcmOptions") if value.get("fcmOptions") else None
    return messaging.APNSConfig(headers=value.get("headers"), payload=payload, fcm_options=options)


def message_build(content: dict[str, Any], token: str) -> messaging.Message:
    """One token's ``Message`` from the stored content (checked by ``content_check``)."""
    android = content.get("android")
    if android is not None and not isinstance(android, dict):
        raise InvalidArgument("'android' must be an object.", details={"field": "android"})
    if android and isinstance(android.get("ttl"), bool):
        raise InvalidArgument("'android.ttl' is a number of seconds.", details={"field": "android.ttl"})
    if android and isinstance(android.get("ttl"), (int, float)):
        android = {**android, "ttl": datetime.timedelta(seconds=android["ttl"])}
    with warnings.catch_warnings():
        # 7.x prefers installation ids (fid); devices here register FCM registration tokens.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _message(content, android, token)


def _message(content: dict[str, Any], android: dict[str, Any] | None, token: str) -> messaging.Message:
    return messaging.Message(
        token=token,
        notification=_build(_NOTIFICATION, content["notification"], "notification") if content.get("notification") else None,
        data=content.get("data") or None,
        android=_build(_ANDROID, android, "android") if android else None,
        apns=_apns(content["apns"]) if content.get("apns") else None,
        webpush=_build(_WEBPUSH, content["webpush"], "webpush") if content.get("webpush") else None,
    )


def content_check(content: dict[str, Any]) -> None:
    """Refuse, at the call, what firebase-admin would refuse at send time."""
    for name in ("notification", "android", "apns", "webpush"):
        if name in content and not isinstance(content[name], dict):
            raise InvalidArgument(f"'{name}' must be an object.", details={"field": name})
    data = content.get("data")
    if data is not None and (
        not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
    ):
        raise InvalidArgument("'data' maps strings to strings.", details={"field": "data"})
    try:
        message = message_build(content, "validation-token")
        messaging._MessagingService.encode_message(message)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise InvalidArgument(f"Invalid message: {error}", details={"reason": str(error)}) from None


# --- sending ------------------------------------------------------------------------------

INVALID_TOKEN = "invalid_token"
TRANSIENT = "transient"
FAILED = "failed"
SENT = "sent"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # sent | invalid_token | transient | failed
    message_id: str = ""
    code: str = ""
    message: str = ""
    retry_after: float | None = None


def _retry_after(error: exceptions.FirebaseError) -> float | None:
    response = getattr(error, "http_response", None)
    raw = response.headers.get("Retry-After") if response is not None else None
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def outcome_of(error: BaseException) -> Outcome:
    """What to do about one token's error: drop the token, retry later, or give up."""
    text = str(error)[:500]
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return Outcome(INVALID_TOKEN, code=error.code if isinstance(error, exceptions.FirebaseError) else "", message=text)
    if isinstance(error, exceptions.InvalidArgumentError) and "token" in text.lower():
        return Outcome(INVALID_TOKEN, code=error.code, message=text)
    transient = (exceptions.UnavailableError, exceptions.InternalError, exceptions.ResourceExhaustedError,
                 exceptions.DeadlineExceededError, exceptions.UnknownError)
    if isinstance(error, transient):
        return Outcome(TRANSIENT, code=error.code, message=text, retry_after=_retry_after(error))
    code = error.code if isinstance(error, exceptions.FirebaseError) else type(error).__name__
    return Outcome(FAILED, code=str(code), message=text)


def batch_send(app: firebase_admin.App, content: dict[str, Any], tokens: list[str]) -> list[Outcome]:
    """One ``send_each`` call (at most 500 tokens); an outcome per token, in order."""
    if len(tokens) > MAX_BATCH:
        raise ValueError("a batch holds at most 500 tokens")
    messages = [message_build(content, token) for token in tokens]
    try:
        result = messaging.send_each(messages, app=app)
    except exceptions.FirebaseError as error:  # the whole call failed (e.g. no access token)
        return [outcome_of(error)] * len(tokens)
    outcomes = []
    for response in result.responses:
        if response.success:
            outcomes.append(Outcome(SENT, message_id=response.message_id or ""))
        else:
            outcomes.append(outcome_of(response.exception))
    return outcomes
