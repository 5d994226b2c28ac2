"""On PostgreSQL, ids and collection names sort by code point whatever the database's
default collation, so ``$id`` order and cursors match SQLite's."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for column, length in (("doc_id", 128), ("collection", 64)):
        schema_editor.execute(f'ALTER TABLE baas_document ALTER COLUMN {column} TYPE varchar({length}) COLLATE "C"')


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
