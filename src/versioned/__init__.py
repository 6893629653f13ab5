"""versioned: versioned binary artifacts on Amazon S3, with numbered immutable versions,
a mutable LATEST and weighted aliases. Start from :mod:`versioned.api`."""

__version__ = "0.1.0"
