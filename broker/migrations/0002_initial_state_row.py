from django.db import migrations


def create_state(apps, schema_editor):
    apps.get_model("broker", "BrokerState").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("broker", "0001_broker_state")]

    operations = [migrations.RunPython(create_state, migrations.RunPython.noop)]
