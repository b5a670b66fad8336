import pytest

from app.preview.model import HeadModel


@pytest.fixture(scope="session")
def model() -> HeadModel:
    return HeadModel.load()
