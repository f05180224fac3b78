"""Any saved or deleted device, product or CA may change what the broker allows.

Queryset `.update()` calls send no signals; the services that use them call
`mark_access_changed()` themselves.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from certificates.models import CACertificate
from products.models import Device, Product

from .state import mark_access_changed


@receiver(post_save, sender=Device)
@receiver(post_delete, sender=Device)
@receiver(post_save, sender=Product)
@receiver(post_delete, sender=Product)
@receiver(post_save, sender=CACertificate)
@receiver(post_delete, sender=CACertificate)
def access_changed(sender, **kwargs) -> None:
    mark_access_changed()
