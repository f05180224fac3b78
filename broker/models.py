from django.db import models
from django.utils import timezone


class BrokerCommand(models.Model):
    """Something every broker (or one broker) must do: cut clients off, or publish.

    Brokers poll `/broker/v1/commands` for rows newer than the last id they saw;
    rows are written in the transaction of the change that causes them and pruned
    after `COMMAND_LIFETIME`, by then every running broker has seen them.
    """

    class Kind(models.TextChoices):
        KICK = "kick", "Disconnect a client"
        KICK_PREFIX = "kick_prefix", "Disconnect every client of a product"
        PUBLISH = "publish", "Publish a message"

    created = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # A client id (kick), a Product ID (kick_prefix) or the device's client id (publish).
    target = models.CharField(max_length=64)
    # Null: every broker. A publish goes to the broker holding the device's connection.
    broker_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # For a publish: {"topic", "payload_base64", "qos", "retain"}.
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.target}"
