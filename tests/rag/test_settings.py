"""Settings: code defaults, the presets in config/, and the fitted calibration file."""

import tomllib
from importlib import resources

import pytest
from pydantic import ValidationError

from rag.settings import CALIBRATION_FILE, Settings, load_settings


def _leaves(table: dict, prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_default_toml_holds_only_what_differs_from_the_code():
    defaults = Settings(home="/x").model_dump(mode="json")
    file = tomllib.loads((resources.files("config") / "default.toml").read_text())
    for path, value in _leaves(file):
        code = defaults
        for part in path.split("."):
            code = code[part]
        assert value != code, f"config/default.toml repeats the code default of {path}"


def test_the_calibration_weights_come_from_their_preset_file():
    fitted = tomllib.loads((resources.files("config") / CALIBRATION_FILE).read_text())["answer"]["calibration"]
    assert Settings(home="/x").answer.calibration.model_dump() == fitted
    assert load_settings(home="/x").answer.calibration.model_dump() == fitted
    assert set(fitted) == {"w_sentence", "w_gap", "w_lexical", "w_dense_gap", "w_weakest_part", "bias", "threshold"}


def test_answer_tunables_are_settings_and_unknown_ones_are_rejected(monkeypatch):
    monkeypatch.setenv("PAPERBOT_ANSWER__LISTS__NEAR_TOPIC", "0.5")
    monkeypatch.setenv("PAPERBOT_ANSWER__CALIBRATION__W_GAP", "1.0")
    settings = load_settings(home="/x")
    assert settings.answer.lists.near_topic == 0.5
    assert settings.answer.calibration.w_gap == 1.0 and settings.answer.calibration.bias == Settings(home="/x").answer.calibration.bias
    with pytest.raises(ValidationError):
        load_settings(home="/x", answer={"lists": {"near_topc": 0.5}})
