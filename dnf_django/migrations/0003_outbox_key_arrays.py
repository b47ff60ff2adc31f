from django.db import migrations

from dnf_core.sqlfiles import load_sql


class Migration(migrations.Migration):
    dependencies = [("dnf_django", "0002_failure")]

    operations = [
        migrations.RunSQL(
            sql=load_sql("schema/0003_outbox_key_arrays"),
            reverse_sql=load_sql("schema/0003_outbox_key_arrays_reverse"),
        ),
    ]
