from django.db import models


class BrokerState(models.Model):
    """One row whose `version` grows whenever who may connect, or to what, changes.

    The broker supervisor polls it (one cheap query) and rewrites the Mosquitto
    configuration only when it moved, so a fleet of 100,000 devices is not re-read
    every second.
    """

    version = models.PositiveBigIntegerField(default=0)
    last_updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"broker configuration version {self.version}"
