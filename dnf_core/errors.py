"""Every exception neural-feed raises derives from :class:`NeuralFeedError`."""


class NeuralFeedError(Exception):
    """Root of all neural-feed errors; catch this to catch them all."""


class ConfigurationError(NeuralFeedError):
    """A feed, a setting or a name is invalid; the message says which and why."""


class EncoderError(NeuralFeedError):
    """An encoder failed or returned something that is not a usable vector."""


class ServiceError(NeuralFeedError):
    """An embedded or external service (Postgres, Redis) could not be reached or started."""


class SqlTemplateError(NeuralFeedError):
    """A SQL file is missing or a template was rendered with a missing or invalid value."""


class InvalidCursor(NeuralFeedError, ValueError):
    """A feed page cursor was tampered with, or belongs to another feed or user."""


class EvaluationError(NeuralFeedError, ValueError):
    """An offline evaluation cannot run (bad dataset file, option or feed); says which."""
