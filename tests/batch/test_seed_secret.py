"""grader.batch.keys.load_secret: the course secret from --seed-secret, else GRADER_SEED_SECRET, else
the file in --out (created once), and where it came from, as `grade batch` reports it."""

from grader.batch.keys import SECRET_FILE, load_secret


def test_the_option_wins_then_the_environment_then_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SEED_SECRET", "from-env")
    assert load_secret("from-option", tmp_path) == ("from-option", "--seed-secret")
    assert load_secret(None, tmp_path) == ("from-env", "GRADER_SEED_SECRET")
    monkeypatch.setenv("GRADER_SEED_SECRET", "")  # set but empty: as unset
    secret, origin = load_secret(None, tmp_path)
    assert origin == f"{tmp_path / SECRET_FILE} (new)" and len(secret) == 32
    assert load_secret(None, tmp_path) == (secret, str(tmp_path / SECRET_FILE))  # created once
