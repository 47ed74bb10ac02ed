"""Start-up refuses a queue set-up that would lose or double-run jobs, with one line saying why."""

import pytest

from tests.cluster_rig import PrivateRedis, free_port
from tests.test_settings import PRINT_KEY, run


def reason(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr.strip().splitlines()[-1]


def test_a_redis_broker_without_a_shared_secret_key_is_refused(tmp_path):
    line = reason(run(PRINT_KEY, tmp_path, Q_BROKER="redis", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    assert "Q_BROKER=redis needs SECRET_KEY set in the environment" in line


def test_an_unreachable_redis_is_refused_without_showing_its_password(tmp_path):
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    line = reason(run(PRINT_KEY, tmp_path, Q_BROKER="redis", REDIS_URL=url, SECRET_KEY="shared"))
    assert "Redis at 127.0.0.1:" in line and "does not answer" in line and "hunter2" not in line


def test_a_reachable_redis_with_a_shared_key_starts(tmp_path):
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        result = run(PRINT_KEY, tmp_path, Q_BROKER="redis", REDIS_URL=redis.url, SECRET_KEY="shared")
    finally:
        redis.stop()
    assert result.returncode == 0 and result.stdout.strip() == "shared", result.stderr


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"JOB_TIMEOUT_SECONDS": "300"}, "JOB_TIMEOUT_SECONDS (300) is shorter than JOB_MAX_ATTEMPTS"),
        ({"JOB_MAX_ATTEMPTS": "6"}, "is shorter than JOB_MAX_ATTEMPTS × PROVIDER_TIMEOUT_SECONDS plus backoff"),
        ({"Q_RETRY_SECONDS": "600"}, "Q_RETRY_SECONDS (600) must be above JOB_TIMEOUT_SECONDS (600)"),
        ({"PROVIDER_JOB_DEADLINE_SECONDS": "700"}, "PROVIDER_JOB_DEADLINE_SECONDS must be at least"),
        ({"JOB_HEARTBEAT_SECONDS": "60"}, "JOB_HEARTBEAT_SECONDS (60) must be below JOB_STALE_AFTER_SECONDS (60)"),
    ],
)
def test_contradicting_timeouts_are_refused(tmp_path, env, words):
    assert words in reason(run(PRINT_KEY, tmp_path, **env))
