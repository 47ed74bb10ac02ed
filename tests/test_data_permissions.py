"""A fresh data dir is private from the first instant: the folder 0700, the SQLite database (and
its WAL files) and the generated secret key 0600, made so by a umask at creation (no chmod
afterwards), whatever the umask of the shell that started Atelier."""

import json
import stat
import textwrap

from tests.test_settings import run

# Under a permissive umask and with chmod forbidden: start Django, write to the database, and
# report every file's mode while the connection (and so the WAL files) is open.
START = textwrap.dedent(
    """
    import json, os, stat
    os.umask(0o022)
    def no_chmod(*args, **kwargs):
        raise AssertionError("permissions must be right at creation, not fixed with chmod")
    os.chmod = no_chmod
    import django
    django.setup()
    from django.conf import settings
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (x)")
        cursor.execute("INSERT INTO probe VALUES (1)")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in settings.DATA_DIR.iterdir() if p.is_file()}
    print(json.dumps({"modes": modes, "umask": os.umask(0o022)}))
    """
)


def start(data_dir) -> dict:
    result = run(["-c", START], data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_fresh_data_dir_is_created_private(tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    report = start(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert report["modes"] == {
        "secret_key": 0o600,
        "atelier.sqlite3": 0o600,
        "atelier.sqlite3-wal": 0o600,
        "atelier.sqlite3-shm": 0o600,
    }  # and no scratch file of the key left behind
    assert report["umask"] == 0o022, "settings must leave the process umask as they found it"


def test_an_existing_database_and_key_are_kept(tmp_path):
    start(tmp_path)
    key = (tmp_path / "secret_key").read_text()
    start(tmp_path)
    assert (tmp_path / "secret_key").read_text() == key


def test_data_made_before_it_was_private_is_made_private_at_start_and_said_once(tmp_path):
    start(tmp_path)
    tmp_path.chmod(0o755)  # as an older Atelier (or a cp -r) left them
    for name in ("secret_key", "atelier.sqlite3"):
        (tmp_path / name).chmod(0o644)
    setup = ["-c", "import django; django.setup()"]
    first, second = run(setup, tmp_path), run(setup, tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("secret_key", "atelier.sqlite3")} == {
        "secret_key": 0o600,
        "atelier.sqlite3": 0o600,
    }
    said = [line for line in first.stderr.splitlines() if "Made readable by this user only" in line]
    assert len(said) == 1 and f"{tmp_path} 755 -> 700" in said[0] and "secret_key 644 -> 600" in said[0]
    assert "Made readable" not in second.stderr
