"""The outbox is a queue (a row in, a row out per write): vacuum it by row count, not by
a fraction of a table that is always nearly empty, so dead rows never pile up."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE baas_change_pending SET (autovacuum_vacuum_scale_factor = 0, "
        "autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)"
    )


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_postgres_byte_order")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
