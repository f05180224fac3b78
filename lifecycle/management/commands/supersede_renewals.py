"""`manage.py supersede_renewals`: end the overlaps that ran out, for cron.

A renewed device's old certificate is revoked (superseded) as soon as the device
connects with its new one, or when its overlap ends; this revokes the ones whose
overlap ended while the device did not connect at all, and signs the Platform CRL
again if it lists any of them. Serving the CRL and the broker's questions do the
same lazily; run this hourly so that nothing waits for them.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from lifecycle import services


class Command(BaseCommand):
    help = "Revoke, as superseded, renewed-away certificates whose 7-day overlap ended."

    def handle(self, *args, **options) -> None:
        count = services.supersede_overdue()
        self.stdout.write(f"{count} certificate(s) revoked as superseded.")
