"""The layout conformance suite (see _base.py)."""

import pytest

# _base.py holds the assertions of every test here: let pytest explain their failures.
pytest.register_assert_rewrite("_base")
