"""Command line: `python -m rag.ask "QUESTION" [--mode ...] [-k N] [--json]`.

The same flow as the chat, for one question (so there is nothing to condense): the answer
streams to standard output as it arrives, then its sources and how well they support each
sentence. `--json` prints one object instead. Exit 0 on an answer, 1 when the model failed
(with its message), 2 for usage errors (bad arguments or settings, a question over the
length limit).
"""

from __future__ import annotations

import argparse
import sys

from rag.answers import Answer
from rag.chat.export import answer_json, plain_text
from rag.chat.flow import ChatOptions
from rag.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_search_arguments,
    add_store_arguments,
    check_search_arguments,
    print_json,
    run,
    search_options_from,
    target_from,
)
from rag.engine import open_engine
from rag.errors import QuestionTooLongError
from rag.providers.chat_model import GenerationOptions


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rag.ask`."""
    parser = argparse.ArgumentParser(prog="python -m rag.ask", description=__doc__)
    parser.add_argument("question")
    add_search_arguments(parser)
    parser.add_argument(
        "--model", help="chat model name (default: the knowledge base's, or RAG_CHAT_MODEL)"
    )
    add_store_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.question.strip():
        parser.error("the question is empty")
    check_search_arguments(parser, args)
    return run(lambda: _ask(args))


def _ask(args: argparse.Namespace) -> int:
    target = target_from(args)
    # A knowledge base may name its own chat model; --model still wins.
    model = args.model or (target.kb.search.chat_model if target.kb else None)
    search = search_options_from(args, target.settings, target.kb)
    language = target.kb.search.answer_language if target.kb else None
    options = ChatOptions(search, GenerationOptions(model), language)
    with open_engine(target.settings) as engine:
        try:
            stream = engine.chat.ask(args.question, (), options)
        except QuestionTooLongError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.json:
            answer = stream.answer
            print_json(answer_json(answer, engine.chat.llm_configured))
        else:
            for delta in stream:
                sys.stdout.write(plain_text(delta, stream.kind))
                sys.stdout.flush()
            answer = stream.answer
            _print_footer(answer)
    if answer.error:
        print(f"error: {answer.error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _print_footer(answer: Answer) -> None:
    """After the streamed text: notices, the sources cited, and the flagged sentences."""
    print()
    for note in (answer.warning, answer.notice):
        if note:
            print(f"\nnote: {note}")
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            chunk_id = f"  [{citation.chunk.chunk_id}]" if citation.chunk else ""
            print(f"  {citation.label()}{chunk_id}")
    if answer.sentences:
        print(f"\n{answer.support_summary}.")
    for sentence in answer.sentences:
        if sentence.flagged:
            print(f"  {sentence.verdict.value}: {sentence.text!r}: {sentence.reason}")
