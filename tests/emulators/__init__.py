"""Local servers that speak each provider's real HTTP protocol, for tests and for clicking
through the studio with no network (`python -m tests.emulators`)."""
