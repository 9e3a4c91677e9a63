"""Every patient belongs to a clinic: existing patients (and their history rows) move into the default
clinic (accounts 0003 made it); then the field is required. The roles get the transfer permission
and the programme role its group."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

from accounts.clinics import ensure_default_clinic


def existing_patients_into_the_default_clinic(apps, schema_editor):
    Clinic = apps.get_model("accounts", "Clinic")
    ensure_default_clinic(Clinic)
    clinic = Clinic.objects.order_by("pk").first()  # the default clinic: the only one unless added since
    apps.get_model("patients", "Patient").objects.filter(clinic__isnull=True).update(clinic=clinic)
    apps.get_model("patients", "HistoricalPatient").objects.filter(clinic__isnull=True).update(clinic=clinic)


def grant_roles(apps, schema_editor):
    importlib.import_module("accounts.migrations.0001_roles").create_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_sites"),
        ("patients", "0007_reminder_key"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="patient",
            options={
                "ordering": ["family_name", "given_name"],
                "permissions": [
                    ("make_decision", "Can make clinical decisions (intervals, oral switch, alerts)"),
                    ("transfer_patient", "Can transfer a patient to another clinic"),
                ],
            },
        ),
        migrations.AddField(
            model_name="historicalpatient",
            name="clinic",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="accounts.clinic",
            ),
        ),
        migrations.AddField(
            model_name="patient",
            name="clinic",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="patients", to="accounts.clinic"
            ),
        ),
        migrations.RunPython(existing_patients_into_the_default_clinic, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="clinic",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="patients", to="accounts.clinic"
            ),
        ),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]
