"""One config surface: the schema's defaults are the dataclasses', the YAML is parsed once, regimes are views."""

from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml

from sqs.study.config import (
    ConfigError,
    Grid,
    StudyConfig,
    defaults_of,
    regime_config,
    section,
    study_config,
)
from sqs.study.decode import DecodeConfig
from sqs.system.latency import LinkConfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def _resolve(node: dict) -> dict:
    if "$ref" in node:
        target = SCHEMA
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _norm(value):
    return tuple(_norm(v) for v in value) if isinstance(value, list | tuple) else value


def _compare(node: dict, default, where: str) -> int:
    """Every property of a schema object against the dataclass instance ``default``; returns how many values
    were compared. A field the schema lacks, or a property the dataclass lacks, fails too."""
    node = _resolve(node)
    props = node["properties"]
    given = node.get("default") or {}  # an object's own default ({kind: gilbert-elliott}) over its properties'
    maps = {n: getattr(default, n) for n in ("values", "schemes") if isinstance(getattr(default, n, None), dict)}
    own = {f.name for f in fields(default)} - set(maps)
    assert own <= set(props), f"{where}: fields {sorted(own - set(props))} are not in the schema"
    checked = 0
    for name, prop in props.items():
        prop = _resolve(prop)
        if name in own:
            value = getattr(default, name)
        elif "values" in maps and name in maps["values"]:
            value = maps["values"][name]
        elif "schemes" in maps and name in maps["schemes"]:
            checked += _compare_map(prop, maps["schemes"][name], f"{where}.{name}")
            continue
        else:
            raise AssertionError(f"{where}.{name} is in the schema, not in {type(default).__name__}")
        if is_dataclass(value):
            checked += _compare(prop, value, f"{where}.{name}")
        elif name in given:
            assert _norm(given[name]) == _norm(value), (f"{where}.{name}", given[name], value)
            checked += 1
        else:
            assert "default" in prop, f"{where}.{name} has no default in the schema"
            assert _norm(prop["default"]) == _norm(value), (f"{where}.{name}", prop["default"], value)
            checked += 1
    return checked


def _compare_map(node: dict, values: dict, where: str) -> int:
    props = node["properties"]
    assert set(props) == set(values), (where, sorted(props), sorted(values))
    for name, prop in props.items():
        assert _norm(prop["default"]) == _norm(values[name]), (f"{where}.{name}", prop["default"], values[name])
    return len(props)


def test_the_schema_defaults_are_the_dataclasses_defaults():
    """What `snakemake` fills in and what the library assumes are the same values, key by key, and neither
    side has a key the other lacks (the link alone has no schema defaults: its preset fills what is left out)."""
    top = StudyConfig()
    checked = 0
    for name, prop in SCHEMA["properties"].items():
        if name == "link":
            assert not any("default" in p for p in prop["properties"].values()), "a link default would mask a preset"
            assert {f.name for f in fields(LinkConfig)} | {"preset"} == set(prop["properties"])
            continue
        if name == "regimes":
            assert prop["default"] == {"practical": {}} and top.regime_names() == ["practical"]
            continue
        checked += _compare(prop, getattr(top, name), name)
    assert checked >= 100, checked  # the walk reached every section (108 values today)
    # the parts of live decoding a config sets: the same defaults as the decode section
    dc = defaults_of(DecodeConfig)
    for key, value in defaults_of(type(top.decode)).items():
        if key in dc:
            assert dc[key] == value, key


def test_the_default_config_parses_once_into_every_regimes_view():
    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg = StudyConfig.from_dict(raw)
    assert cfg.regime_names() == ["paper", "practical"]
    paper, practical = cfg.view("paper"), cfg.view("practical")
    assert paper.decode.max_draft_len is None and practical.decode.max_draft_len == 2
    assert paper.decode.budget_bits == practical.decode.budget_bits == 5000  # decode keys merge
    assert paper.link.downlink_bps is None and paper.link.propagation_s == 0.0  # link: the paper preset
    assert paper.compute.profile == "calibrated" and practical.compute.profile == raw["compute"]["profile"]
    assert paper.grid.schemes["k_sqs"]["K"] == (16,) and practical.grid.schemes["top_p"]["top_p"] == (0.9,)
    assert cfg.reads_top_level("practical") and not cfg.reads_top_level("paper")
    assert study_config(cfg) is cfg and study_config(raw) == cfg
    with pytest.raises(ConfigError, match=r"regime 'nope' is not in the config's regimes \(paper, practical\)"):
        cfg.view("nope")
    assert regime_config(raw, "paper")["decode"]["max_draft_len"] is None


def test_a_bad_key_is_named_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"decode: unknown key\(s\) \['budget'\]; valid: max_new_tokens, n_prompts"):
        StudyConfig.from_dict({"decode": {"budget": 10}})
    with pytest.raises(ConfigError, match=r"unknown config section\(s\) \['decoding'\]"):
        StudyConfig.from_dict({"decoding": {}})
    with pytest.raises(ConfigError, match=r"grid.k_sqs.beta0 is not a swept column; valid: K"):
        StudyConfig.from_dict({"grid": {"k_sqs": {"beta0": [0.1]}}})
    with pytest.raises(ConfigError, match=r"link: uplink_bps must be > 0, got -1"):
        StudyConfig.from_dict({"link": {"uplink_bps": -1}})
    with pytest.raises(ConfigError, match=r"analysis.policies.channel: channel kind must be one of"):
        StudyConfig.from_dict({"analysis": {"policies": {"channel": {"kind": "wifi"}}}})


def test_sections_parse_alone_and_lists_become_tuples():
    g = section(Grid, {"temperatures": [0.5], "k_sqs": {"K": [4, 8]}})
    assert g.temperatures == (0.5,) and g.schemes["k_sqs"]["K"] == (4, 8)
    assert g.schemes["c_sqs"] == Grid().schemes["c_sqs"]  # a section left out keeps the registry's sweep
    assert isinstance(g.schemes["k_sqs"]["K"][0], int)
    with pytest.raises(AttributeError):
        g.temperatures = (1.0,)  # frozen
