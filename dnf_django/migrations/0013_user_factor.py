# The user-side basis collaborative vectors are folded into (issue 15).

import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dnf_django", "0012_shown_page"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserFactor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("feed_id", models.CharField(max_length=64)),
                ("user_key", models.TextField()),
                ("factor", pgvector.django.vector.VectorField()),
            ],
            options={
                "db_table": "dnf_user_factor",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("feed_id", "user_key"), name="dnf_user_factor_feed_user"
                    )
                ],
            },
        ),
    ]
