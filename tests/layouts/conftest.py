"""The layout conformance suite (see tests/_layoutkit.py)."""

import pytest

# _layoutkit.py holds the assertions of every test here: let pytest explain their failures.
pytest.register_assert_rewrite("_layoutkit")
