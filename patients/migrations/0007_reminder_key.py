# Every patient gets an opaque key for the reminders' opt-out link (instead of the database id):
# added empty, filled one by one, then made unique.

import uuid

from django.db import migrations, models


def fill_reminder_keys(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    for pk in Patient.objects.values_list("pk", flat=True).iterator():
        Patient.objects.filter(pk=pk).update(reminder_key=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_physician_decisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="reminder_key",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalpatient",
            name="reminder_key",
            field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False),
        ),
        migrations.RunPython(fill_reminder_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="reminder_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
