"""Pieces shared by the command-line tools: store flags, settings, error handling."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings, load_settings
from rag.errors import RagError, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-dir, --collection and --json, which every command takes."""
    parser.add_argument("--data-dir", type=Path, help="data folder (default: RAG_DATA_DIR)")
    parser.add_argument("--collection", help="collection name (default: RAG_COLLECTION)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command's flags on top."""
    settings = load_settings()
    overrides = {"data_dir": args.data_dir, "collection": args.collection}
    return settings.with_overrides(**{k: v for k, v in overrides.items() if v is not None})


def print_json(data: object) -> None:
    """One JSON object on standard output."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def run(command: Callable[[], int]) -> int:
    """Run a command; our own errors become a one-line message and an exit code.

    A bad setting is a usage error (2, as argparse gives for bad arguments); any other of
    our errors is a failure (1): a missing document, a store that failed, a bad input file.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return command()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
