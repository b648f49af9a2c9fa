"""The dispatch of train.py: every model name maps to its family; a family not in the folder is named."""
import pytest

import train
import utils


def test_every_model_has_one_family():
    assert len(train.ALL_MODELS) == len(set(train.ALL_MODELS)) == 12
    for model in train.ALL_MODELS:
        assert model in train.FAMILIES[train.family_name(model)]


def test_missing_family_is_reported():
    for model in train.ALL_MODELS:
        if model not in train.available_models():
            with pytest.raises(utils.CheckpointError, match="not in this folder yet"):
                train.family_of(model)
