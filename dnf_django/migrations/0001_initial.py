import django.db.models.deletion
import pgvector.django
from django.conf import settings
from django.db import migrations, models
from pgvector.django import VectorExtension

from dnf_core.sqlfiles import load_sql


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        VectorExtension(),
        migrations.RunSQL(
            sql=load_sql("schema/0001_outbox"),
            reverse_sql=load_sql("schema/0001_outbox_reverse"),
        ),
        migrations.CreateModel(
            name="UserFeedProfile",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("feed_id", models.CharField(db_index=True, max_length=64)),
                ("embedding", pgvector.django.VectorField()),
                ("updated_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="feed_profiles",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"db_table": "dnf_user_profile"},
        ),
        migrations.CreateModel(
            name="FeedItemStat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("feed_id", models.CharField(max_length=64)),
                ("item_key", models.TextField()),
                ("interactions", models.IntegerField(default=0)),
                ("updated_at", models.DateTimeField()),
            ],
            options={"db_table": "dnf_item_stat"},
        ),
        migrations.AddConstraint(
            model_name="userfeedprofile",
            constraint=models.UniqueConstraint(
                fields=("user", "feed_id"), name="dnf_user_profile_user_feed"
            ),
        ),
        migrations.AddConstraint(
            model_name="feeditemstat",
            constraint=models.UniqueConstraint(
                fields=("feed_id", "item_key"), name="dnf_item_stat_feed_item"
            ),
        ),
    ]
