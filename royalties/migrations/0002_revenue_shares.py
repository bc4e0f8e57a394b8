"""Seed the revenue shares per origin: 70% of app-store fees, 90% of web fees."""

from decimal import Decimal

from django.db import migrations

SHARES = {"app_store": Decimal("0.70"), "web": Decimal("0.90")}


def seed(apps, schema_editor):
    RevenueShare = apps.get_model("royalties", "RevenueShare")
    for origin, share in SHARES.items():
        RevenueShare.objects.get_or_create(origin=origin, defaults={"share": share})


def unseed(apps, schema_editor):
    apps.get_model("royalties", "RevenueShare").objects.filter(origin__in=SHARES).delete()


class Migration(migrations.Migration):
    dependencies = [("royalties", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
