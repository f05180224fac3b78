from django.db import migrations, models
from django.db.models import F


def psk_set_when_created(apps, schema_editor):
    # No PSK has changed since its device was created: that is when each was set.
    Device = apps.get_model("products", "Device")
    Device.objects.filter(key_origin="psk").update(psk_updated=F("created"))


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0005_device_status_and_online_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="psk_updated",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(psk_set_when_created, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(fields=["product", "certificate_not_after"], name="device_certificate_expiry"),
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(fields=["product", "psk_updated"], name="device_psk_updated"),
        ),
    ]
