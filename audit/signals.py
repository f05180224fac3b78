"""Failed sign-ins, from Django's own signal: the one entry the console writes for a refusal."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from .context import client_ip
from .models import AuditEntry
from .services import record

# What a failure for no known account shows instead of the text typed: people type a
# password into the username box, and that must not reach the Audit Log.
UNKNOWN_ACCOUNT = "unknown account"
WRONG_CREDENTIALS_DETAIL = "Wrong username or password."
NO_SUCH_ACCOUNT_DETAIL = "No account has this username."


@receiver(user_login_failed)
def record_sign_in_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    # Only the username is read: Django has already masked the password in
    # `credentials`, and it is never written anywhere regardless. The username is
    # kept only when it names an account; otherwise the entry keeps just the address.
    username = str(credentials.get("username", ""))
    # A name with control characters matches no account (and PostgreSQL refuses NUL in a query).
    known = username and username.isprintable()
    account = get_user_model().objects.filter(username=username).first() if known else None
    label = username if account else UNKNOWN_ACCOUNT
    with transaction.atomic():
        record(
            account_id=account.pk if account else None,
            action=AuditEntry.Action.SIGN_IN_FAILED,
            object_type=AuditEntry.ObjectType.ACCOUNT,
            object_id=account.pk if account else "",
            object_label=label,
            detail=WRONG_CREDENTIALS_DETAIL if account else NO_SUCH_ACCOUNT_DETAIL,
            actor=label,
            source=AuditEntry.Source.CONSOLE,
            ip=client_ip(request.META) if request is not None else None,
        )
