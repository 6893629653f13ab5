"""The one import of s3pathlib's ``S3Path`` (its location moved in s3pathlib 3.0)."""

try:
    from s3pathlib.api import S3Path
except ImportError:  # s3pathlib < 3
    from s3pathlib import S3Path  # type: ignore[no-redef,attr-defined,unused-ignore]

__all__ = ["S3Path"]
