"""How well the word-support score tells a claim's evidence from a merely similar text.

Usage: python bench/claim_support.py [--scifact DIR] [--negatives N] [--stem-chars N]

SciFact's claims (queries.jsonl) carry their evidence abstracts in `metadata` (labelled
SUPPORT or CONTRADICT). Claims of the test split (those in qrels/test.tsv) are left out.
Positives: each claim against each of its evidence abstracts (title + text). Negatives:
each claim against the N best-matching abstracts by BM25 (over the same content words) that
are not its evidence: hard negatives, like a model citing the wrong one of the chunks that
retrieval found. Prints the score distributions, the threshold with the best Youden's J
(true positive rate minus false positive rate) and the best F1, and precision and recall
at a few thresholds. Contradicting evidence counts as positive: the check is lexical and
asks only whether the sentence is about what its source says.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.chat import words
from rag.chat.claims import SUPPORT_THRESHOLD, check_claims, claim_words
from rag.chat.numbers import find_numbers
from rag.chat.words import content_words, word_support
from rag.results import ScoredChunk

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
SHOWN = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def read_data(folder: Path) -> tuple[dict[str, str], list[tuple[str, set[str]]]]:
    """The abstracts by id (title and text), and (claim, evidence ids) outside the test split."""
    corpus = {}
    with (folder / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            corpus[row["_id"]] = f"{row.get('title', '')}\n{row['text']}"
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as rows:
        test = {row["query-id"] for row in csv.DictReader(rows, delimiter="\t")}
    claims = []
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["metadata"] and row["_id"] not in test:
                claims.append((row["text"], set(row["metadata"]) & corpus.keys()))
    return corpus, [(text, gold) for text, gold in claims if gold]


class BM25:
    """Plain Okapi BM25 (k1 1.2, b 0.75) over content-word stems."""

    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.postings: dict[str, dict[str, int]] = {}
        for doc_id, terms in docs.items():
            for term, tf in Counter(terms).items():
                self.postings.setdefault(term, {})[doc_id] = tf
        lengths = {doc_id: len(terms) for doc_id, terms in docs.items()}
        mean = statistics.fmean(lengths.values())
        self.norm = {d: k1 * (1 - b + b * length / mean) for d, length in lengths.items()}
        n = len(docs)
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in
                    self.postings.items()}  # fmt: skip
        self.k1 = k1

    def top(self, terms: list[str], k: int, skip: set[str]) -> list[str]:
        """The `k` best documents for `terms`, leaving out the ids in `skip`."""
        scores: Counter[str] = Counter()
        for term in set(terms):
            for doc_id, tf in self.postings.get(term, {}).items():
                scores[doc_id] += self.idf[term] * tf * (self.k1 + 1) / (tf + self.norm[doc_id])
        ranked = (doc_id for doc_id, _ in scores.most_common())
        return [doc_id for doc_id in ranked if doc_id not in skip][:k]


def scores(corpus, claims, negatives: int) -> tuple[list[float], list[float], Counter]:
    """Support of each positive and each negative pair; the full check's verdicts (numbers
    and words, at SUPPORT_THRESHOLD) on each kind of pair, counted."""
    stems = {doc_id: frozenset(content_words(text)) for doc_id, text in corpus.items()}
    index = BM25({doc_id: content_words(text) for doc_id, text in corpus.items()})
    positive, negative, verdicts = [], [], Counter()
    for claim, gold in claims:
        words_of_claim = claim_words(claim)
        pairs = [("evidence", positive, d) for d in gold]
        pairs += [
            ("hard negative", negative, d) for d in index.top(words_of_claim, negatives, gold)
        ]
        for kind, values, doc_id in pairs:
            values.append(word_support(words_of_claim, stems[doc_id]) or 0.0)
            source = ScoredChunk(
                1, doc_id, doc_id, "scifact", 1, 1, corpus[doc_id], None, None, None
            )
            # Two claims hold two sentences each: checked as one.
            cited = claim.rstrip(".").replace(". ", "; ") + " [1]."
            [check] = check_claims(cited, [source])
            verdicts[kind, check.verdict.value] += 1
            verdicts[kind, "states a number"] += bool(find_numbers(claim))
    return positive, negative, verdicts


def at(threshold: float, positive: list[float], negative: list[float]) -> dict[str, float]:
    """Recall (true positive rate), false positive rate, precision and F1 at `threshold`."""
    tp = sum(s >= threshold for s in positive)
    fp = sum(s >= threshold for s in negative)
    recall, fpr = tp / len(positive), fp / len(negative)
    precision = tp / (tp + fp) if tp + fp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"recall": recall, "fpr": fpr, "precision": precision, "f1": f1, "j": recall - fpr}


def auc(positive: list[float], negative: list[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def report(positive, negative, verdicts) -> None:
    """Print the distributions, the best thresholds and the table."""
    for name, values in (("evidence", positive), ("hard negatives", negative)):
        q = statistics.quantiles(values, n=10)
        print(
            f"{name}: n={len(values)} mean {statistics.fmean(values):.3f}"
            f" p10 {q[0]:.2f} p25 {statistics.quantiles(values, n=4)[0]:.2f}"
            f" median {statistics.median(values):.2f} p90 {q[-1]:.2f}"
        )
    print(f"ROC AUC {auc(positive, negative):.3f}")
    grid = [round(t / 100, 2) for t in range(5, 100)]
    for key in ("j", "f1"):
        best = max(grid, key=lambda t: at(t, positive, negative)[key])
        print(f"best {key.upper()}: threshold {best:.2f}", _row(at(best, positive, negative)))
    print("\n| threshold | recall | false positive rate | precision | F1 |")
    print("|---|---|---|---|---|")
    for threshold in SHOWN:
        m = at(threshold, positive, negative)
        print(
            f"| {threshold:.2f} | {m['recall']:.3f} | {m['fpr']:.3f} | {m['precision']:.3f}"
            f" | {m['f1']:.3f} |"
        )
    print(f"\nThe whole check (numbers and words, threshold {SUPPORT_THRESHOLD}):")
    for kind, total in (("evidence", len(positive)), ("hard negative", len(negative))):
        counts = {v: n for (k, v), n in sorted(verdicts.items()) if k == kind}
        print(f"- {kind} pairs ({total}):", ", ".join(f"{v} {n}" for v, n in counts.items()))


def _row(m: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in m.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scifact", type=Path, default=SCIFACT)
    parser.add_argument("--negatives", type=int, default=1, help="hard negatives per claim")
    parser.add_argument("--stem-chars", type=int, default=words.STEM_CHARS)
    args = parser.parse_args()
    words.STEM_CHARS = args.stem_chars
    started = time.perf_counter()
    corpus, claims = read_data(args.scifact)
    print(f"{platform.platform()}, Python {platform.python_version()}")
    print(f"{len(claims)} claims (test split left out), {len(corpus)} abstracts,")
    print(f"{args.negatives} hard negative(s) per claim, stems of {args.stem_chars} letters")
    report(*scores(corpus, claims, args.negatives))
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
