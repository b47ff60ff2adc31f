"""django-neural-feed 1.1.0, the peer, measured in a virtualenv of its own.

``harness`` (run by the bench's interpreter) makes the virtualenv and starts
``measure.py`` in it; ``upstream_site`` and ``posts`` are the tiny Django project that
script runs, wired the way upstream's README shows.
"""
