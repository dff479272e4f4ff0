"""Editor support: the JSON Schema editors use accepts the `x-` keys the docs allow, and the examples
point the YAML language server at it."""

from __future__ import annotations

import json

import jsonschema
import yaml

from lorainfra.config.fmt import format_text
from lorainfra.config.loader import config_files
from tests.conftest import EXAMPLES, ROOT

SCHEMA = ROOT / "schemas" / "config.schema.json"


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def test_schema_accepts_x_keys_at_the_top_level() -> None:
    doc = yaml.safe_load("""\
x-llama: &llama
  base_model: accounts/fireworks/models/llama-v3p1-8b-instruct
  anything: [1, 2]
deployments:
  base:
    <<: *llama
    shape: default
""")
    doc["deployments"]["base"].pop("anything")
    assert list(validator().iter_errors(doc)) == []


def test_schema_still_rejects_other_unknown_top_level_keys() -> None:
    errors = list(validator().iter_errors({"deploymets": {}, "y-thing": 1}))
    assert len(errors) == 1 and "deploymets" in errors[0].message and "y-thing" in errors[0].message


def test_examples_carry_the_schema_line_and_stay_formatted() -> None:
    for folder in [EXAMPLES / "quickstart"]:
        for name in config_files(folder):
            text = (folder / name).read_text()
            assert text.startswith("# yaml-language-server: $schema=../../schemas/config.schema.json\n"), name
            assert (folder / "../../schemas/config.schema.json").resolve() == SCHEMA.resolve()
            assert format_text(text, name) == text
