"""Signals the products and certificates services send; the broker app receives them.

The broker app imports products (its decisions read devices), so products cannot
import the broker back: a change that takes away a device's right to connect is
announced here, inside the transaction that makes it, and the broker app turns it
into commands for the brokers in that same transaction.
"""

from django.dispatch import Signal

# Sent with `client_ids` (devices whose connection must close: disabled, deleted,
# certificate replaced or revoked) and `product_ids` (products all of whose devices
# must be cut off: forbidden, deleted, CA unbound or replaced). Either may be empty.
device_access_revoked = Signal()


def revoke_access(*, client_ids=(), product_ids=()) -> None:
    """Announce that these devices, or every device of these products, lost their access."""
    client_ids, product_ids = list(client_ids), list(product_ids)
    if client_ids or product_ids:
        device_access_revoked.send(sender=None, client_ids=client_ids, product_ids=product_ids)
