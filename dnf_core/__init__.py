"""Framework-free core of neural-feed: feed specs, encoders, outbox events, SQL files."""

from dnf_core.encoders import BaseVectorEncoder, HashingEncoder, SentenceTransformerEncoder
from dnf_core.errors import (
    BackfillError,
    BrokerError,
    ConfigurationError,
    EncoderError,
    EvaluationError,
    InvalidArgument,
    InvalidArgumentType,
    InvalidCursor,
    NeuralFeedError,
    ServiceError,
    SqlTemplateError,
    UnknownFeedAttribute,
)
from dnf_core.events import BatchLimits, EventKind, OutboxEvent, Task, TaskKind, plan_tasks
from dnf_core.grants import grant_sql
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql, render_sql

__all__ = [
    "BackfillError",
    "BaseVectorEncoder",
    "BatchLimits",
    "BrokerError",
    "ConfigurationError",
    "EncoderError",
    "EvaluationError",
    "EventKind",
    "FeedSpec",
    "HashingEncoder",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidCursor",
    "NeuralFeedError",
    "OutboxEvent",
    "SentenceTransformerEncoder",
    "ServiceError",
    "SqlTemplateError",
    "Task",
    "TaskKind",
    "UnknownFeedAttribute",
    "grant_sql",
    "load_sql",
    "plan_tasks",
    "render_sql",
]
