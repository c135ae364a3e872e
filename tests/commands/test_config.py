"""`grade config`: each setting, its value and where it came from (text and JSON), a value the
grader cannot use said plainly, a secret never shown, and the reading the code itself uses."""

import json
import os
import subprocess
import sys

import pytest

from grader import settings
from grader.cli import main
from tests.conftest import ROOT, run_cli

DECLARED = {s.name for s in settings.SETTINGS}


@pytest.fixture
def clean_env(monkeypatch):
    """This process's environment without any of the grader's settings."""
    for name in DECLARED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _lines(text: str) -> dict:
    """{variable: the words after it on its line}."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if parts and parts[0] in DECLARED:
            out[parts[0]] = parts[1] if len(parts) > 1 else ""
    return out


def test_text_shows_each_setting_its_value_and_its_source(clean_env, capsys):
    clean_env.setenv("GRADER_SERVER_IDLE", "60")
    clean_env.setenv("GRADER_PIN", "0")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    rows = _lines(out)
    assert set(rows) == DECLARED
    assert rows["GRADER_SERVER_IDLE"].split() == ["environment", "60"]
    assert rows["GRADER_PIN"].split() == ["environment", "off"]
    assert rows["GRADER_NO_SERVER"].split() == ["default", "off"]
    assert rows["AUTOGRADER_ROOT"].split() == ["default", "/autograder"]
    assert out.index("For everyone:") < out.index("For instructors:") < out.index("Set by the grader")
    assert "bad value" not in out


def test_json_gives_the_same_as_data(clean_env, capsys):
    clean_env.setenv("GRADER_HINT_LEVEL", "Concept")
    assert main(["config", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["settings"]}
    assert doc["edition"] == "full" and set(rows) == DECLARED
    assert rows["GRADER_HINT_LEVEL"]["value"] == "concept"
    assert rows["GRADER_HINT_LEVEL"]["source"] == "environment GRADER_HINT_LEVEL"
    assert rows["GRADER_HINT_LEVEL"]["option"] == "--hint-level"
    assert rows["GRADER_SERVER_IDLE"] | {"help": ""} == {
        "name": "GRADER_SERVER_IDLE",
        "value": 900.0,
        "shown": "900",
        "source": "default",
        "set": False,
        "problem": None,
        "type": "seconds",
        "default": "900",
        "option": None,
        "audience": "everyone",
        "editions": "both",
        "help": "",
    }


def test_a_bad_value_is_said_with_what_the_grader_does_instead(clean_env, capsys):
    clean_env.setenv("GRADER_SERVER_IDLE", "abc")
    clean_env.setenv("GRADER_HINT_LEVEL", "verbose")
    assert main(["config"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.out.splitlines()
    idle = next(i for i, line in enumerate(lines) if line.split()[:1] == ["GRADER_SERVER_IDLE"])
    assert lines[idle].split() == ["GRADER_SERVER_IDLE", "environment", "900"]
    assert lines[idle + 1].strip() == "bad value: 'abc' is not a number of seconds: the default, 900, is used"
    assert (
        "bad value: 'verbose' is not one of fix, concept: grade refuses it (exit 2) unless --hint-level "
        "is given" in captured.out
    )
    # and what the grader does is what it said
    from grader.commands.server_client import idle_seconds
    from grader.hint_levels import chosen_level

    assert idle_seconds() == 900.0
    with pytest.raises(ValueError, match="'verbose'"):
        chosen_level(None)
    assert chosen_level("concept") == "concept"


def test_a_secret_is_never_shown(clean_env, capsys):
    clean_env.setenv("GRADER_SEED_SECRET", "hush-hush-42")
    main(["config"])
    main(["config", "--format", "json"])
    out = capsys.readouterr().out
    assert "hush-hush-42" not in out
    assert _lines(out)["GRADER_SEED_SECRET"] == "environment  (set; not shown)"
    assert "(set; not shown)" in out


def test_the_student_edition_lists_the_settings_it_reads(clean_env, capsys):
    import grader.edition

    clean_env.setattr(grader.edition, "EDITION", "student")
    main(["config", "--format", "json"])
    names = {r["name"] for r in json.loads(capsys.readouterr().out)["settings"]}
    assert "GRADER_HINT_LEVEL" in names and "GRADER_NO_SERVER" in names
    assert names.isdisjoint({"GRADER_SEED_SECRET", "GRADER_PIN", "AUTOGRADER_ROOT"})


def test_a_reading_says_where_the_value_came_from():
    idle = settings.SERVER_IDLE
    assert idle.read({}).source == "default" and idle.read({}).value == 900.0
    assert idle.read({"GRADER_SERVER_IDLE": ""}).source == "default"
    assert idle.read({"GRADER_SERVER_IDLE": "-5"}).value == 0.1  # raised to its minimum
    assert idle.read({"GRADER_SERVER_IDLE": "nan"}).problem
    level = settings.HINT_LEVEL.read({"GRADER_HINT_LEVEL": "fix"}, option_value="concept")
    assert (level.value, level.source) == ("concept", "--hint-level")  # the option wins
    assert settings.NO_SERVER.value({"GRADER_NO_SERVER": "0"}) is False
    assert settings.NO_SERVER.value({"GRADER_NO_SERVER": "1"}) is True
    assert settings.CI.value({"CI": "false"}) is False and settings.CI.value({"CI": "true"}) is True
    assert settings.PIN.value({}) is True and settings.PIN.value({"GRADER_PIN": "0"}) is False
    index = settings.TORCH_INDEX.read({"NNGRADE_TORCH_INDEX": ""})  # set but empty means something here
    assert index.value == "" and index.source == "environment NNGRADE_TORCH_INDEX"


def test_grade_lists_config_and_runs_it_without_torch():
    env = {k: v for k, v in os.environ.items() if k not in DECLARED} | {"GRADER_SERVER_IDLE": "abc"}
    code = (
        "import sys\nfrom grader.cli import main\n"
        "rc = main(sys.argv[1:])\nassert 'torch' not in sys.modules\nsys.exit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "bad value: 'abc'" in run.stdout and run.stderr == ""
    helped = run_cli("--help", env=env)
    assert "grade config " in helped.stdout
