"""Push reads the event feed for one thing: a deleted end user's devices go with them, so
their phones stop getting the project's topic messages."""

from __future__ import annotations

from projects.documents.feeds import Event, feed_consumer
from projects.push.models import Device


def _interested(project_id: str) -> bool:
    return Device.objects.for_project(project_id).exists()


@feed_consumer("push", interested=_interested)
def push_take(project_id: str, events: list[Event]) -> None:
    """Inside the feed's transaction; deleting is idempotent, so a batch offered again is harmless."""
    gone = {event.subject for event in events if event.type == "user.deleted"}
    if gone:
        Device.objects.for_project(project_id).filter(uid__in=gone).delete()
