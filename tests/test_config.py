"""common.config: defaults, validation that names the variable, one cache path, no global offline switch."""

from __future__ import annotations

import pytest

from common.config import VARIABLES, ConfigError, Settings


def test_defaults_match_the_design_table():
    settings = Settings.from_env({})
    assert settings.model_id == "nanonets/Nanonets-OCR-s"
    assert settings.model_revision == "main"
    assert settings.model_cache_path == "/cache/huggingface"
    assert settings.hub_cache_path == "/cache/huggingface/hub"
    assert settings.ocr_engine == "auto"
    assert settings.results_prefix == "ocr-results"
    assert settings.allowed_buckets == ()
    assert settings.max_upload_bytes == 32 * 1024 * 1024
    assert settings.max_pages == 500
    assert settings.api_token == ""


def test_every_variable_has_a_default_a_description_and_a_field():
    fields = set(Settings.__dataclass_fields__)
    for variable in VARIABLES:
        assert variable.description.strip(), variable.name
        assert variable.name.lower() in fields
        variable.parse(variable.default)  # every default is itself valid
    assert len(fields) == len(VARIABLES)


@pytest.mark.parametrize(
    "name,value",
    [("MAX_PAGES", "many"), ("MAX_PAGES", "0"), ("MAX_UPLOAD_BYTES", "-5"), ("OCR_ENGINE", "gpu"),
     ("MODEL_CACHE_PATH", "relative/path"), ("LOG_FORMAT", "xml"), ("QUEUE_WAIT_SECONDS", "1.5")],
)
def test_a_bad_value_fails_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(f"{name}={value!r}")


def test_values_are_parsed():
    settings = Settings.from_env({"ALLOWED_BUCKETS": " a, b ,,c ", "OCR_ENGINE": "LITE", "RESULTS_PREFIX": "/out/",
                                  "MODEL_CACHE_PATH": "/mnt/models/"})
    assert settings.allowed_buckets == ("a", "b", "c")
    assert settings.ocr_engine == "lite"
    assert settings.results_prefix == "out"
    assert settings.hub_cache_path == "/mnt/models/hub"


@pytest.mark.parametrize("name", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_a_global_offline_switch_is_refused(name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: "1"})
    Settings.from_env({name: "0"})  # explicitly off is harmless


def test_huggingface_cache_variables_must_agree_with_the_cache_path():
    Settings.from_env({"HF_HOME": "/cache/huggingface", "HF_HUB_CACHE": "/cache/huggingface/hub"})
    with pytest.raises(ConfigError, match="HF_HOME='/cache'"):
        Settings.from_env({"HF_HOME": "/cache"})
    with pytest.raises(ConfigError, match="HF_HUB_CACHE"):
        Settings.from_env({"MODEL_CACHE_PATH": "/models", "HF_HUB_CACHE": "/cache/huggingface/hub"})


def test_overrides_win_and_unknown_overrides_are_errors():
    assert Settings.from_env({"OCR_ENGINE": "vlm"}, ocr_engine="lite").ocr_engine == "lite"
    with pytest.raises(TypeError):
        Settings.from_env({}, no_such_setting=1)
