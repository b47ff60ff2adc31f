"""django-neural-feed 1.1.0, the peer, measured in a virtualenv of its own.

``harness`` (run by the bench's interpreter) makes the virtualenv and starts a script
in it: ``measure.py`` (likes, for the triggers bench), ``ingest.py`` (saves and their
embeddings, for the ingest bench) or ``feed.py`` (``get_feed`` latency, for the feed
bench); ``upstream_site`` and ``posts`` are the tiny Django project those scripts run,
wired the way upstream's README shows.
"""
