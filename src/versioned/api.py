"""The public names, as the seeds spell them."""

from . import exc, s3_and_dynamodb_backend, s3_only_backend
from ._fetch import SignedURL
from ._retry import RetryPolicy
from ._watch import Watcher
from .constants import (
    DYNAMODB_TABLE_NAME,
    LATEST_VERSION,
    METADATA_KEY_ARTIFACT_SHA256,
    S3_PREFIX,
    VERSION_ZFILL,
)
from .repository import Alias, Artifact, Repository
from .rollout import RolloutProgress, RolloutStatus

__all__ = [
    "DYNAMODB_TABLE_NAME",
    "LATEST_VERSION",
    "METADATA_KEY_ARTIFACT_SHA256",
    "S3_PREFIX",
    "VERSION_ZFILL",
    "Alias",
    "Artifact",
    "Repository",
    "RetryPolicy",
    "RolloutProgress",
    "RolloutStatus",
    "SignedURL",
    "Watcher",
    "exc",
    "s3_and_dynamodb_backend",
    "s3_only_backend",
]
