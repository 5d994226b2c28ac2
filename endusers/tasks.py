"""Background jobs of end-user auth. Mail leaves outside the request, so an answer's
timing never tells whether an account exists."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from endusers import cleanup


@shared_task(
    name="endusers.email_send",
    ignore_result=True,
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=True,
    max_retries=5,
)
def email_send(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])


# Hourly housekeeping (the schedule is in baas/celery.py). Each returns how many rows went.


@shared_task(name="endusers.refresh_tokens_purge", ignore_result=True)
def refresh_tokens_purge() -> int:
    return cleanup.refresh_tokens_purge()


@shared_task(name="endusers.oauth_states_purge", ignore_result=True)
def oauth_states_purge() -> int:
    return cleanup.oauth_states_purge()


@shared_task(name="endusers.email_tokens_purge", ignore_result=True)
def email_tokens_purge() -> int:
    return cleanup.email_tokens_purge()


@shared_task(name="endusers.custom_token_uses_purge", ignore_result=True)
def custom_token_uses_purge() -> int:
    return cleanup.custom_token_uses_purge()


@shared_task(name="endusers.signing_keys_purge", ignore_result=True)
def signing_keys_purge() -> int:
    return cleanup.signing_keys_purge()
