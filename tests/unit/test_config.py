"""Sync settings: TOML file, environment, options; validation messages."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from topo_graphdb.config import SyncConfig, load_config, parse_duration, parse_since
from topo_graphdb.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sync.toml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sync.toml"
    p.write_text(textwrap.dedent(text))
    return p


def test_defaults_without_any_source():
    cfg = load_config(None, environ={})
    assert cfg == SyncConfig()
    assert cfg.score.hops == 2 and cfg.score.beta is None and cfg.predict.top_k == 10
    assert cfg.run.backend == "auto" and cfg.run.since == "" and cfg.write.prefix == "topo_"


def test_example_config_is_valid_and_complete():
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.selection.labels == ("Paper",)
    assert cfg.selection.rel_types == ("CITES",)
    # every setting appears in the documented example (commented out or not)
    from topo_graphdb.config import describe_settings

    text = EXAMPLE.read_text()
    missing = [f"{s}.{k}" for s, k, _, _ in describe_settings() if f"{k} =" not in text and f"# {k} =" not in text]
    assert missing == []


def test_precedence_file_then_env_then_options(tmp_path):
    path = write(
        tmp_path,
        """
        [score]
        hops = 1
        atc_dim = 64
        [predict]
        top_k = 5
        """,
    )
    env = {"TOPO_SYNC_SCORE_HOPS": "3", "TOPO_SYNC_PREDICT_EPOCHS": "7"}
    cfg = load_config(path, environ=env, overrides={"score.hops": (2, "--hops"), "predict.top_k": None})
    assert cfg.score.hops == 2  # option beats env beats file
    assert cfg.score.atc_dim == 64  # file
    assert cfg.predict.epochs == 7  # env
    assert cfg.predict.top_k == 5  # None override is skipped
    assert cfg.source == str(path)


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, "[run]\nbackend = 'cpu'\n")
    assert load_config(None, environ={"TOPO_SYNC_CONFIG": str(path)}).run.backend == "cpu"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[score]\nhops = 9\n", "sync.toml: score.hops must be an integer in 1..4; got 9"),
        ("[score]\nhops = true\n", "score.hops must be an integer in 1..4; got True"),
        ("[score]\nbeta = -1\n", "score.beta must be a number > 0, or 'auto'; got -1"),
        ("[score]\nhopz = 2\n", "unknown setting 'hopz' (hint: did you mean 'hops'?)"),
        ("[scores]\nhops = 2\n", "unknown setting 'scores' (hint: did you mean 'score'?)"),
        ("[run]\nbackend = 'tpu'\n", "run.backend must be one of auto, cpu, gpu; got 'tpu'"),
        ("[run]\nmax_runtime = 'soon'\n", "run.max_runtime must be a duration such as 90, 30m or 2h"),
        ("[run]\nlock_ttl = 1\n", "run.lock_ttl must be a duration in 10s..1d; got 1"),
        ("[run]\nsince = 'yesterday'\n", "run.since must be 'last', a number or an ISO date"),
        ("[run]\nsince = 'last'\n", "needs selection.timestamp_property"),
        ("[write]\nprefix = 'bad prefix'\n", "write.prefix must be a property-name prefix"),
        ("[selection]\nlabels = 'Paper'\nwhere = ['year ~ 3']\n", "sync.toml: selection.where"),
        ("[selection]\norientation = 'natural'\n", "unknown setting 'orientation'"),
        ("[predict]\ntop_k = 0\n", "predict.top_k must be an integer in 1..1000; got 0"),
        ("score = 3\n", "sync.toml: [score] must be a table of settings"),
        ("[score\nhops = 2\n", "not valid TOML"),
    ],
)
def test_bad_file_values_give_one_line_errors(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert fragment.replace("sync.toml: ", "") in message
    assert "\n" not in message
    if fragment.startswith("sync.toml"):
        assert message.startswith("sync.toml")


def test_errors_name_the_environment_variable_or_option():
    with pytest.raises(InputError, match=r"^TOPO_SYNC_PREDICT_TOP_K must be an integer in 1\.\.1000; got 'ten'"):
        load_config(None, environ={"TOPO_SYNC_PREDICT_TOP_K": "ten"})
    with pytest.raises(InputError, match=r"^--hops must be an integer in 1\.\.4; got 0"):
        load_config(None, environ={}, overrides={"score.hops": (0, "--hops")})
    with pytest.raises(InputError, match="TOPO_SYNC_SCORE_HOPZ: unknown setting 'hopz'"):
        load_config(None, environ={"TOPO_SYNC_SCORE_HOPZ": "1"})
    with pytest.raises(InputError, match="TOPO_SYNC_NOPE: unknown setting"):
        load_config(None, environ={"TOPO_SYNC_NOPE": "1"})


def test_environment_strings_are_parsed_by_type():
    env = {
        "TOPO_SYNC_SCORE_ATC": "off",
        "TOPO_SYNC_SCORE_BETA": "0.25",
        "TOPO_SYNC_SELECTION_LABELS": "Paper, Author",
        "TOPO_SYNC_RUN_MAX_RUNTIME": "45m",
        "TOPO_SYNC_RUN_WAIT": "yes",
        "TOPO_SYNC_SELECTION_WHERE": '["year >= 2010"]',
    }
    cfg = load_config(None, environ=env)
    assert cfg.score.atc is False
    assert cfg.score.beta == 0.25
    assert cfg.selection.labels == ("Paper", "Author")
    assert cfg.run.max_runtime == 2700.0
    assert cfg.run.wait is True
    assert cfg.selection.where == ("year >= 2010",)


def test_empty_environment_values_count_as_unset():
    assert load_config(None, environ={"TOPO_SYNC_SCORE_HOPS": ""}).score.hops == 2


def test_file_not_found_is_one_line(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_cross_checks():
    with pytest.raises(InputError, match="only is 'predict' but predict.enabled is false"):
        load_config(None, environ={}, overrides={"run.only": "predict", "predict.enabled": False})
    with pytest.raises(InputError, match="both score.tc and score.atc are false"):
        load_config(None, environ={}, overrides={"run.only": "score", "score.tc": False, "score.atc": False})


def test_params_hash_tracks_result_settings_only():
    base = load_config(None, environ={})
    assert base.params_hash() == load_config(None, environ={}).params_hash()
    assert base.params_hash() != load_config(None, environ={}, overrides={"score.hops": 1}).params_hash()
    assert base.params_hash() != load_config(None, environ={}, overrides={"run.only": "score"}).params_hash()
    # scheduling settings do not change what is written
    same = load_config(None, environ={}, overrides={"run.max_runtime": "1h", "run.wait": True, "run.lock_ttl": 60})
    assert same.params_hash() == base.params_hash()
    # nor does where the work runs
    elsewhere = load_config(None, environ={"TOPO_SYNC_COMPUTE_SCHEDULER": "local:2"}, overrides={"compute.model_cache": False})
    assert elsewhere.compute.scheduler == "local:2" and elsewhere.compute.model_cache is False
    assert elsewhere.params_hash() == base.params_hash()


@pytest.mark.parametrize("value", ["local:0", "local:x", "local:-1"])
def test_a_bad_scheduler_is_one_line_naming_the_setting(value):
    with pytest.raises(InputError) as err:
        load_config(None, environ={"TOPO_SYNC_COMPUTE_SCHEDULER": value})
    assert str(err.value).startswith("TOPO_SYNC_COMPUTE_SCHEDULER must be '', local, local:N or a scheduler address")
    assert "\n" not in str(err.value)


def test_scope_depends_on_database_and_selection_only():
    a = load_config(None, environ={}, overrides={"selection.labels": ["A"]})
    b = load_config(None, environ={}, overrides={"selection.labels": ["A"], "score.hops": 1})
    c = load_config(None, environ={}, overrides={"selection.labels": ["B"]})
    assert a.scope("neo4j") == b.scope("neo4j")
    assert a.scope("neo4j") != c.scope("neo4j")
    assert a.scope("neo4j") != a.scope("other")


def test_graph_spec_from_selection():
    cfg = load_config(
        None,
        environ={},
        overrides={
            "selection.labels": ["Paper"],
            "selection.rel_types": "CITES",
            "selection.where": ["year >= 2010"],
            "selection.key_property": "id",
            "selection.timestamp_property": "t",
        },
    )
    spec = cfg.graph_spec()
    assert spec.labels == ("Paper",) and spec.rel_types == ("CITES",)
    assert spec.key_property == "id" and spec.time_property == "t"
    assert str(spec.node_where[0]) == "year >= 2010"


def test_with_changes_validates():
    cfg = load_config(None, environ={})
    assert cfg.with_changes(score={"hops": 1}).score.hops == 1
    with pytest.raises(InputError, match="score.hops must be an integer in 1..4"):
        cfg.with_changes(score={"hops": 7})


@pytest.mark.parametrize(
    "text, seconds", [("90", 90.0), ("90s", 90.0), ("2m", 120.0), ("1.5h", 5400.0), ("1d", 86400.0), ("250ms", 0.25), (30, 30.0)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_since():
    assert parse_since("") == ""
    assert parse_since("last") == "last"
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since("2024-01-01T00:00:00Z") == 1_704_067_200.0
    assert parse_since("2024-01-01T01:00:00+01:00") == 1_704_067_200.0
    with pytest.raises(InputError):
        parse_since("nan")


def test_renamed_key_is_still_read(tmp_path):
    path = write(tmp_path, "[predict]\nindicator = false\n")
    assert load_config(path, environ={}).predict.trust is False
    # a later source wins whichever name it uses
    assert load_config(path, environ={"TOPO_SYNC_PREDICT_TRUST": "on"}).predict.trust is True
    assert load_config(None, environ={"TOPO_SYNC_PREDICT_INDICATOR": "off"}).predict.trust is False
    with pytest.raises(InputError, match="^TOPO_SYNC_PREDICT_INDICATOR must be true or false; got 'maybe'$"):
        load_config(None, environ={"TOPO_SYNC_PREDICT_INDICATOR": "maybe"})


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("score.atc_dim", 4, "score.atc_dim must be an integer in 8..4096; got 4"),
        ("predict.batch_size", -1, "predict.batch_size must be an integer >= 0; got -1"),
        ("predict.trust_holdout", 0.9, "predict.trust_holdout must be a number in 0.01..0.5; got 0.9"),
        ("predict.min_score", "high", "predict.min_score must be a number; got 'high'"),
        ("predict.model", "gat", "predict.model must be one of gcn, sage, ncn, ncnc, cn, aa, ra; got 'gat'"),
        ("write.rate_limit", -1, "write.rate_limit must be a number >= 0; got -1"),
        ("write.relationship_type", "", "write.relationship_type must be a relationship type name; got ''"),
        ("run.drift_threshold", 2, "run.drift_threshold must be a number in 0..1; got 2"),
        ("run.wait", 1, "run.wait must be true or false; got 1"),
        ("score.memory_budget", "lots", "score.memory_budget must be a size like 512M or 8G"),
        ("selection.labels", "Paper, ", None),
        ("selection.labels", "Pa\x07per", "selection.labels: "),  # the identifier guard's own reason
    ],
)
def test_each_setting_states_its_allowed_values(setting, value, message):
    if message is None:
        assert load_config(None, environ={}, overrides={setting: value}).selection.labels == ("Paper",)
        return
    with pytest.raises(InputError) as info:
        load_config(None, environ={}, overrides={setting: value})
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_unknown_keys_are_reported_before_bad_values(tmp_path):
    path = write(tmp_path, "[score]\nhops = 9\nhopz = 2\n")
    with pytest.raises(InputError, match="unknown setting 'hopz'"):
        load_config(path, environ={})
    with pytest.raises(InputError, match=r"^--set score.hopz: unknown setting 'hopz' \(hint: did you mean 'hops'\?\)"):
        load_config(None, environ={}, overrides={"score.hopz": ("2", "--set score.hopz")})


def test_config_ignores_where_it_came_from_in_equality():
    assert load_config(None, environ={}, overrides={"score.hops": 2}) == SyncConfig(source="elsewhere")
    assert hash(load_config(None, environ={})) == hash(SyncConfig())
    assert load_config(None, environ={}, overrides={"score.hops": 1}) != SyncConfig()


# --------------------------------------------------------------------------- the sync command's options
def test_sync_options_name_existing_settings_with_the_same_choices():
    import click

    from topo_graphdb.cli import main
    from topo_graphdb.config import describe_settings

    settings = {f"{s}.{k}" for s, k, _, _ in describe_settings()}
    named = [(re.search(r"\((\w+\.\w+)\)\.$", p.help or ""), p) for p in main.commands["sync"].params]
    options = {m.group(1): p for m, p in named if m}  # each setting option's help ends with "(section.key)."
    assert len(options) == 22 and set(options) <= settings
    for setting, option in options.items():
        if isinstance(option.type, click.Choice):
            for choice in option.type.choices:
                load_config(None, environ={}, overrides={setting: choice})  # every CLI choice is a valid setting
            with pytest.raises(InputError, match="must be one of " + ", ".join(option.type.choices) + ";"):
                load_config(None, environ={}, overrides={setting: "nope"})


def test_sync_options_become_settings_named_by_the_option(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from topo_graphdb import pipeline
    from topo_graphdb.cli import main

    seen = {}

    def fake_run_sync(conn, cfg, **kwargs):
        seen["cfg"] = cfg
        raise InputError("stop here")

    monkeypatch.setattr(pipeline, "run_sync", fake_run_sync)
    # The connection comes from the environment, never from a server this machine happens to run.
    env = {"TOPO_SYNC_CONFIG": "", "TOPO_SYNC_SCORE_HOPS": "3", "NEO4J_URI": "bolt://127.0.0.1:9",
           "NEO4J_PASSWORD": "unused", "XDG_STATE_HOME": str(tmp_path)}
    args = ["sync", "-q", "--label", "Paper", "--label", "Author", "--no-atc", "--top-k", "5", "--max-runtime", "45m",
            "--only", "score", "--set", "write.batch_size=50"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 3 and "stop here" in result.stderr
    cfg = seen["cfg"]
    assert cfg.selection.labels == ("Paper", "Author") and cfg.score.atc is False and cfg.score.hops == 3
    assert cfg.predict.top_k == 5 and cfg.run.max_runtime == 2700.0 and cfg.run.only == "score"
    assert cfg.write.batch_size == 50

    bad = CliRunner().invoke(main, ["sync", "--hops", "9"], env=env)
    assert bad.exit_code == 3 and bad.stderr.strip() == "error: --hops must be an integer in 1..4; got 9"
    bad = CliRunner().invoke(main, ["sync", "--set", "score.hops=0"], env=env)
    assert bad.stderr.strip() == "error: --set score.hops must be an integer in 1..4; got '0'"
    bad = CliRunner().invoke(main, ["sync", "--only", "score", "--no-atc", "--set", "score.tc=off"], env=env)
    assert bad.stderr.strip() == "error: --only is 'score' but both score.tc and score.atc are false"
