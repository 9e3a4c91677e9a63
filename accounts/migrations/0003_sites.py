"""Clinics (sites): the model, the default clinic a database starts with, and every existing account on
its staff, so that an install that was one clinic goes on as one clinic without any set-up."""

from django.conf import settings
from django.db import migrations, models

from accounts.clinics import ensure_default_clinic, only_clinic


def existing_staff_into_the_default_clinic(apps, schema_editor):
    Clinic = apps.get_model("accounts", "Clinic")
    ensure_default_clinic(Clinic)
    clinic = only_clinic(Clinic)
    if clinic is not None:
        clinic.staff.add(*apps.get_model(*settings.AUTH_USER_MODEL.split(".")).objects.all())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_account_state"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Clinic",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("slug", models.SlugField(unique=True)),
                ("staff", models.ManyToManyField(blank=True, related_name="clinics", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["name"],
                "permissions": [("view_programme", "See every clinic's counts, without patient data")],
            },
        ),
        migrations.RunPython(existing_staff_into_the_default_clinic, migrations.RunPython.noop),
    ]
