"""Fixtures shared by the unit tests."""
import pytest

from engine.store import Store


@pytest.fixture
def store(tmp_path):
    """A Store on a fresh DuckDB file, closed after the test."""
    s = Store(tmp_path / "log.duckdb")
    yield s
    s.close()
