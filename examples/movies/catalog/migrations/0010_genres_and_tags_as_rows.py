# Genres and tags become rows of their own, which the feed reads through lookups
# (genres__name, tags__name). Text already stored in the old columns is moved into
# the new tables, in its order, so a loaded demo keeps its movies' text.

from django.db import migrations, models

SEPARATOR = ", "


def text_to_rows(apps, schema_editor):
    Movie = apps.get_model("catalog", "Movie")
    alias = schema_editor.connection.alias
    for model_name, old, field, column in (
        ("Genre", "genres_text", "genres", "genre_id"),
        ("Tag", "tags_text", "tags", "tag_id"),
    ):
        model = apps.get_model("catalog", model_name)
        through = getattr(Movie, field).through
        links = [
            (pk, [n.strip() for n in text.split(SEPARATOR) if n.strip()])
            for pk, text in Movie.objects.using(alias).order_by("pk").values_list("pk", old)
        ]
        names = dict.fromkeys(n for _, ns in links for n in ns)
        rows = model.objects.using(alias).bulk_create([model(name=n) for n in names])
        ids = {row.name: row.pk for row in rows}
        through.objects.using(alias).bulk_create(
            [through(movie_id=pk, **{column: ids[n]}) for pk, ns in links for n in ns],
            batch_size=5000,
        )


def rows_to_text(apps, schema_editor):
    Movie = apps.get_model("catalog", "Movie")
    alias = schema_editor.connection.alias
    # The feed triggers restored by now read the columns under their old names: pause
    # them (their updates re-text nothing) until this migration commits.
    schema_editor.execute("SELECT set_config('dnf.capture_paused', '*', true)")
    for movie in Movie.objects.using(alias).prefetch_related("genres", "tags"):
        movie.genres_text = SEPARATOR.join(g.name for g in movie.genres.order_by("pk"))
        movie.tags_text = SEPARATOR.join(t.name for t in movie.tags.order_by("pk"))
        movie.save(update_fields=["genres_text", "tags_text"])


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0009_dnf_movies"),
    ]

    operations = [
        migrations.RenameField(model_name="movie", old_name="genres", new_name="genres_text"),
        migrations.RenameField(model_name="movie", old_name="tags", new_name="tags_text"),
        migrations.CreateModel(
            name="Genre",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=255, unique=True)),
            ],
        ),
        migrations.AddField(
            model_name="movie",
            name="genres",
            field=models.ManyToManyField(blank=True, related_name="movies", to="catalog.genre"),
        ),
        migrations.AddField(
            model_name="movie",
            name="tags",
            field=models.ManyToManyField(blank=True, related_name="movies", to="catalog.tag"),
        ),
        migrations.RunPython(text_to_rows, rows_to_text),
        migrations.RemoveField(model_name="movie", name="genres_text"),
        migrations.RemoveField(model_name="movie", name="tags_text"),
    ]
