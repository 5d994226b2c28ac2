"""Background jobs of end-user auth. Mail leaves outside the request, so an answer's
timing never tells whether an account exists."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(
    name="endusers.email_send",
    ignore_result=True,
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=True,
    max_retries=5,
)
def email_send(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
