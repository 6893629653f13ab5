"""versioned: versioned binary artifacts on Amazon S3, with numbered immutable versions,
a mutable LATEST and weighted aliases. Start from :mod:`versioned.api`."""

__version__ = "0.1.0"

import logging as _logging

# The library logs on the "versioned" logger and is silent unless the application
# configures logging (the stdlib convention for libraries).
_logging.getLogger("versioned").addHandler(_logging.NullHandler())
