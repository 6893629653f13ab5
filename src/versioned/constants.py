"""Constants shared by both storage layouts (their values are part of the on-disk format)."""

from typing import Final

S3_PREFIX: Final = "versioned-artifacts"
DYNAMODB_TABLE_NAME: Final = "versioned-artifacts"
LATEST_VERSION: Final = "LATEST"
VERSION_ZFILL: Final = 6
MAX_VERSION: Final = 999_999
METADATA_KEY_ARTIFACT_SHA256: Final = "artifact_sha256"
METADATA_KEY_ARTIFACT_NAME: Final = "artifact_name"
METADATA_KEY_UPDATE_AT: Final = "artifact_update_at"
MAX_ARTIFACT_NAME_LENGTH: Final = 128
MAX_ALIAS_NAME_LENGTH: Final = 64
DEFAULT_KEEP_LAST_N: Final = 10
DEFAULT_PURGE_OLDER_THAN_SECS: Final = 90 * 24 * 60 * 60
#: the Content-Type a put without one records (S3's own default), the same on both layouts
DEFAULT_CONTENT_TYPE: Final = "binary/octet-stream"
