"""Every exception neural-feed raises derives from :class:`NeuralFeedError`."""


class NeuralFeedError(Exception):
    """Root of all neural-feed errors; catch this to catch them all."""


class ConfigurationError(NeuralFeedError):
    """A feed, a setting or a name is invalid; the message says which and why."""


class UnknownFeedAttribute(ConfigurationError, AttributeError):
    """``get_setting`` of a name that no feed of the ``parent_feed`` chain defines.

    Also an :class:`AttributeError`, as upstream's ``get_setting`` raised, so code
    written for it (``getattr``-style fallbacks, ``except AttributeError``) still works.
    """


class EncoderError(NeuralFeedError):
    """An encoder failed or returned something that is not a usable vector."""


class ServiceError(NeuralFeedError):
    """An embedded or external service (Postgres, Redis) could not be reached or started."""


class BrokerError(ServiceError):
    """Redis could not be reached or read (``dnf_status`` reports it as a problem)."""


class SqlTemplateError(NeuralFeedError):
    """A SQL file is missing or a template was rendered with a missing or invalid value."""


class BackfillError(NeuralFeedError):
    """A backfill walk stopped on a database error; its position is kept for the next run."""


class InvalidArgument(NeuralFeedError, ValueError):
    """An argument of a call has the right type but a value it cannot take.

    Also a :class:`ValueError`, which the same calls raised before, so code catching
    that still works.
    """


class InvalidArgumentType(NeuralFeedError, TypeError):
    """An argument of a call is of a kind it does not take (a user that is not a user,
    an object of another model); also a :class:`TypeError`."""


class ItemNotFound(NeuralFeedError, LookupError):
    """``explain`` of a key that no item has.

    In Django the exception raised is also the content model's ``DoesNotExist``, so
    ``except Article.DoesNotExist`` still catches it.
    """


class InvalidCursor(InvalidArgument):
    """A feed page cursor was tampered with, or belongs to another feed or user."""


class EvaluationError(NeuralFeedError, ValueError):
    """An offline evaluation cannot run (bad dataset file, option or feed); says which."""
