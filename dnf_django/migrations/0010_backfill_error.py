from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dnf_django", "0009_embedding_model"),
    ]

    operations = [
        migrations.AddField(
            model_name="backfill",
            name="error",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="backfill",
            name="failed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
