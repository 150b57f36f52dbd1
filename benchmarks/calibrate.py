"""Collect the found-decision evidence for every dev question (no generation needed), and
optionally refit `Calibration` from it.

Usage: python benchmarks/calibrate.py HOME QUESTIONS.jsonl... [--fit [--write]] > evidence.tsv
HOME must hold the bundled corpus. Prints one row per question: id, kind, answerable,
whether the top paper is gold, the evidence features, the calibrated probability and the
decision; then refusal / false-refusal rates on stderr. With --fit it also fits a logistic
regression on the features (docs/calibration.md) and prints its weights with in-sample and
leave-one-out rates, so the numbers in the docs can be reproduced; --write then stores the
fitted weights in config/calibration.toml, which the settings read (answer.calibration).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import astuple, fields
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes

from rag.answer.decide import Calibration  # noqa: E402
from rag.answer.retrieve import RetrievalFeatures  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.records import Turn, normalize_title  # noqa: E402
from rag.service import Paperbot  # noqa: E402
from rag.settings import CALIBRATION_FILE, load_settings  # noqa: E402
from tests.fakes import FakeModel  # noqa: E402

FEATURES = [f.name for f in fields(RetrievalFeatures)]
UNANSWERABLE_WEIGHT = 3.0  # a wrong answer costs more trust than a wrong refusal
L2 = 1.0


def collect(bot: Paperbot, paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        for q in load_questions(Path(path)):
            # No cited papers: the answerer takes the paper each earlier question finds.
            history = [Turn(question=t["question"]) for t in q.history]
            retrieval = bot.answerer.retrieve(q.question, history)
            top_gold = normalize_title(retrieval.hits[0].title) in {normalize_title(t) for t in q.gold_titles}
            rows.append({"id": q.id, "kind": q.kind, "answerable": bool(q.gold_titles), "top_gold": top_gold,
                         "followup": retrieval.followup, "dev": "hard" not in Path(path).name, "evidence": retrieval.evidence})
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, steps: int = 20000, rate: float = 0.1) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by gradient descent on standardised features;
    returns weights and bias for the raw features."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    beta, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        error = (1 / (1 + np.exp(-(z @ beta + bias))) - y) * weight
        beta -= rate * (z.T @ error / weight.sum() + L2 * beta / len(y))
        bias -= rate * error.sum() / weight.sum()
    return beta / scale, bias - float((beta * mean / scale).sum())


def rates(rows: list[dict], found: list[bool]) -> dict[str, float]:
    out = {}
    for dev, name in [(True, "dev"), (False, "hard")]:
        unanswerable = [f for r, f in zip(rows, found) if r["dev"] == dev and not r["answerable"]]
        answerable = [f for r, f in zip(rows, found) if r["dev"] == dev and r["answerable"]]
        out[f"{name} refusal accuracy"] = float(np.mean([not f for f in unanswerable])) if unanswerable else float("nan")
        out[f"{name} false refusals"] = float(np.mean([not f for f in answerable])) if answerable else float("nan")
    return out


def refit(rows: list[dict]) -> tuple[np.ndarray, float]:
    # Follow-ups are answered from the earlier turn's paper, so they are left out of the fit.
    train = [r for r in rows if not r["followup"]]
    x = np.array([astuple(r["evidence"]) for r in train])
    y = np.array([float(r["answerable"]) for r in train])
    weight = np.where(y == 0, UNANSWERABLE_WEIGHT, 1.0)
    coef, bias = fit_logistic(x, y, weight)
    print("weights: " + ", ".join(f"{n} {c:.3f}" for n, c in zip(FEATURES, coef)) + f", bias {bias:.3f}", file=sys.stderr)
    in_sample = list(x @ coef + bias >= 0)
    held_out = []
    for i in range(len(train)):
        keep = np.arange(len(train)) != i
        c, b = fit_logistic(x[keep], y[keep], weight[keep], steps=5000)
        held_out.append(bool(x[i] @ c + b >= 0))
    for label, found in [("in sample", in_sample), ("leave-one-out", held_out)]:
        print(f"{label} (follow-ups left out): " + ", ".join(f"{k} {v:.2f}" for k, v in rates(train, found).items()), file=sys.stderr)
    return coef, bias


def write_calibration(coef: np.ndarray, bias: float, threshold: float) -> Path:
    """The fitted weights as config/calibration.toml (rounded as the docs quote them)."""
    path = Path(str(resources.files("config") / CALIBRATION_FILE))
    head = [line for line in path.read_text().splitlines() if line.startswith("#")]
    values = [f"w_{name} = {c:.3f}" for name, c in zip(FEATURES, coef)] + [f"bias = {bias:.3f}", f"threshold = {threshold}"]
    path.write_text("\n".join([*head, "[answer.calibration]", *values]) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home")
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--fit", action="store_true", help="refit the logistic weights and print leave-one-out rates")
    parser.add_argument("--write", action="store_true", help="with --fit: store the refitted weights in config/calibration.toml")
    args = parser.parse_args()
    settings = load_settings(home=args.home)
    bot = Paperbot(settings, model=FakeModel())  # no generation: evidence only
    rows = collect(bot, args.questions)
    calibration = Calibration.from_settings(settings.answer.calibration)
    found = []
    print("\t".join(["id", "kind", "answerable", "top_gold", *FEATURES, "probability", "found"]))
    for r in rows:
        probability = calibration.probability(r["evidence"])
        found.append(probability >= calibration.threshold or r["followup"])
        values = [f"{v:.3f}" for v in astuple(r["evidence"])]
        print("\t".join([r["id"], r["kind"], str(int(r["answerable"])), str(int(r["top_gold"])), *values, f"{probability:.3f}", str(int(found[-1]))]))
    print("current Calibration: " + ", ".join(f"{k} {v:.2f}" for k, v in rates(rows, found).items()), file=sys.stderr)
    if args.fit:
        coef, bias = refit(rows)
        if args.write:
            print(f"wrote {write_calibration(coef, bias, calibration.threshold)}", file=sys.stderr)


if __name__ == "__main__":
    main()
