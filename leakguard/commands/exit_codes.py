"""The CLI's exit codes, shared by every sub-command (kept apart from :mod:`leakguard.cli`,
which imports the commands)."""

from __future__ import annotations

__all__ = ["EXIT_BLOCKED", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TERMINATED"]

EXIT_OK = 0  # delivered: clean or redacted
EXIT_ERROR = 2  # bad input, bad config, failed command
EXIT_BLOCKED = 3  # at least one input was blocked by the policy
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM)
