"""Run every provider emulator on fixed local ports and print the settings that point Atelier at
them: `python -m tests.emulators` (or `make emulators`). With a command after `--` (`make demo`),
run that command with those settings in its environment and stop the emulators when it ends."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8801, help="first of four consecutive ports (0: any free ones)")
    parser.add_argument("--env-file", help="also write the settings to this file (e.g. .env)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then a command to run pointed at them")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # the emulators draw their images with the offline renderer

    from tests.emulators.midjourney_proxy import MidjourneyProxyEmulator
    from tests.emulators.openai_api import OpenAIEmulator
    from tests.emulators.replicate_api import ReplicateEmulator
    from tests.emulators.stability_api import StabilityEmulator

    def port(offset: int) -> int:
        return args.port + offset if args.port else 0

    # Realistic pace for clicking through: Replicate takes 2 s, a Midjourney grid 3 s.
    openai = OpenAIEmulator(port=port(0)).start()
    stability = StabilityEmulator(port=port(1)).start()
    replicate = ReplicateEmulator(latency=2.0, port=port(2)).start()
    midjourney = MidjourneyProxyEmulator(duration=3.0, port=port(3)).start()
    servers = [openai, stability, replicate, midjourney]
    hosts = ",".join(e.url.removeprefix("http://") for e in (replicate, midjourney))
    settings = {
        "OPENAI_API_KEY": openai.api_key,
        "OPENAI_BASE_URL": f"{openai.url}/v1",
        "STABILITY_API_KEY": stability.api_key,
        "STABILITY_API_HOST": stability.url,
        "REPLICATE_API_TOKEN": replicate.token,
        "REPLICATE_BASE_URL": replicate.url,
        "MIDJOURNEY_PROXY_URL": midjourney.url,
        "MIDJOURNEY_PROXY_SECRET": midjourney.secret,
        "DOWNLOAD_INSECURE_HOSTS": hosts,
    }
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command:
        sys.exit(run_pointed_at(settings, command, servers))
    lines = [f"{key}={value}" for key, value in settings.items()]
    print("Provider emulators running. Point Atelier at them with:\n")
    print("\n".join(lines))
    if args.env_file:
        with open(args.env_file, "a") as env:
            env.write("\n# Local provider emulators (python -m tests.emulators)\n" + "\n".join(lines) + "\n")
        print(f"\n(appended to {args.env_file})")
    print("\nCtrl-C stops them.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for emulator in servers:
        emulator.stop()
    sys.exit(0)


def run_pointed_at(settings: dict[str, str], command: list[str], servers: list) -> int:
    """Run `command` with the emulators' settings in its environment (a `.env` never needs
    editing); Ctrl-C reaches it from the terminal, and the emulators stop once it has."""
    print("Provider emulators running at " + ", ".join(e.url for e in servers), flush=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call(command, env={**os.environ, **settings})
    finally:
        for emulator in servers:
            emulator.stop()


if __name__ == "__main__":
    main()
