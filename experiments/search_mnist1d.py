"""Random search on MNIST-1D, then the winner retrained as an ensemble: jaxnn's main job.

MNIST-1D (Greydanus 2020) is generated locally: 4,000 training and 1,000 test sequences of 40 values, 10
classes. The model is the paper's MLP shape (40-100-100-10, ReLU, He init) with BatchNorm before and dropout
after each hidden ReLU, trained with Adam (batch 100). The search samples ``--configs`` settings of the
learning rate (log-uniform in [1e-3, 3e-2]), the (coupled L2) weight decay (log-uniform in [1e-6, 1e-3]) and
the dropout rate (uniform in [0, 0.5]) and trains them all together with ``jaxnn.sweep.run`` (one
``jit(vmap(...))`` program) on 80% of the training set, ranked by accuracy on the held-out 20%
(``data.split``). The best setting then trains ``--members`` times from different seeds on the whole training
set, again as one vmapped program, and the ensemble (the mean of the members' probabilities) is scored on the
test set once. Prints the leaderboard and the test accuracy, and writes ``search_mnist1d.png`` (validation
accuracy against each hyperparameter, and the learning curves of the top five) and ``search_mnist1d.json``
(``test_accuracy``, the members' accuracies, the best setting and the whole ranked table). The persistent
compilation cache (``jaxnn.compilation_cache()``, on unless ``--no-cache``) lets a second run skip most of its
compilation.

    python experiments/search_mnist1d.py --out results
    python experiments/search_mnist1d.py --quick --out results   # a few configs, two epochs: a smoke test
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import numpy as np

from experiments._cli import parse_args, write_json
from experiments._ensemble import ensemble_accuracy, member_probabilities
from experiments._models import regularised_mlp
from jaxnn import data, optim, sweep, train

PAPER_MLP_ACCURACY = 0.68
BATCH_SIZE = 100
VAL_FRACTION = 0.2
METRIC = "val_accuracy"
SPACE = sweep.Space(lr=sweep.log_uniform(1e-3, 3e-2), weight_decay=sweep.log_uniform(1e-6, 1e-3),
                    dropout=sweep.uniform(0.0, 0.5))


def setting(hp: dict[str, Any], classes: int) -> tuple[Any, optim.Optimizer]:
    """The model and optimizer of one setting (``hp`` values may be traced)."""
    return regularised_mlp(classes, dropout=hp["dropout"]), optim.adam(hp["lr"], weight_decay=hp["weight_decay"])


def search(dataset: data.Dataset, classes: int, configs: int, epochs: int, seed: int) -> sweep.SweepResult:
    """Every sampled setting trained together on ``dataset.train`` and scored on ``dataset.val``."""

    def build(hp: dict) -> sweep.Trial:
        return sweep.Trial(*setting(hp, classes))

    return sweep.run(build, SPACE.sample(jax.random.key(seed), configs), dataset, epochs=epochs,
                     batch_size=BATCH_SIZE, key=seed)


def retrain(best: dict[str, Any], dataset: data.Dataset, classes: int, members: int, epochs: int, seed: int
            ) -> np.ndarray:
    """``members`` runs of the setting ``best`` from different seeds, trained together on the whole training set;
    their test-set probabilities, ``(members, examples, classes)``."""
    model, opt = setting(best, classes)
    states = train.stack([train.create(model, opt, jax.random.key(s), dataset.train.x.shape[1:])
                          for s in range(seed, seed + members)])
    states, _ = train.fit_stack(states, train.make_train_step(model, opt), dataset.train, epochs, BATCH_SIZE,
                                order_key=jax.random.key(seed), progress=False)
    return member_probabilities(model, states, dataset.test.x)


def plot(result: sweep.SweepResult, probabilities: np.ndarray, y: np.ndarray, path: Path) -> None:
    """The sweep's own figure (validation accuracy against each hyperparameter, the top five's curves) and, in
    its free panel, the test accuracy of each retrained member and of the ensembles of the first k members."""
    figure = result.plot(metric=METRIC, top_k=5)
    ax = figure.axes[len(SPACE.fields) + 1]
    ax.set_visible(True)
    k = np.arange(1, len(probabilities) + 1)
    ax.plot(k, [np.mean(p.argmax(-1) == y) for p in probabilities], "o", color="0.5", label="member k alone")
    ax.plot(k, [ensemble_accuracy(probabilities[:n], y) for n in k], "o-", color="C3", label="ensemble of 1..k")
    ax.axhline(PAPER_MLP_ACCURACY, color="0.5", linestyle=":", label="the paper's MLP")
    ax.set(xlabel="k", ylabel="test accuracy", title="the best setting, retrained", xticks=k)
    ax.legend(fontsize="small")
    figure.suptitle(f"random search of {len(result.configs)} settings on MNIST-1D, then the best as an ensemble: "
                    f"test accuracy {ensemble_accuracy(probabilities, y):.3f}")
    figure.savefig(path, dpi=90)


def loadavg() -> str | None:
    """The machine's load (``/proc/loadavg``) when the run ended, where the system has one: timings need it."""
    return Path("/proc/loadavg").read_text().strip() if os.path.exists("/proc/loadavg") else None


def main(argv: list[str] | None = None) -> dict:
    """Runs the main job; returns what it writes to ``search_mnist1d.json``."""
    args = parse_args(
        __doc__.splitlines()[0], argv,
        epochs=(40, 2),
        configs={"type": int, "default": None, "help": "settings sampled by the search (default 64, 4 with --quick)"},
        members={"type": int, "default": None, "help": "ensemble size of the retrained winner (8, 2 with --quick)"},
        seed={"type": int, "default": 0, "help": "PRNG seed (0)"},
    )
    configs = (4 if args.quick else 64) if args.configs is None else args.configs
    members = (2 if args.quick else 8) if args.members is None else args.members
    for name, value in (("--configs", configs), ("--members", members), ("--epochs", args.epochs)):
        if value < 1:
            raise ValueError(f"{name}={value} is not allowed: it must be an int >= 1.")
    start = time.perf_counter()
    dataset = data.load("mnist1d")
    classes = int(dataset.train.y.max()) + 1
    result = search(data.split(dataset, VAL_FRACTION, args.seed), classes, configs, args.epochs, args.seed)
    searched = time.perf_counter()
    best = result.best(1, METRIC)[0]
    probabilities = retrain(best, dataset, classes, members, args.epochs, args.seed)
    test_accuracy = ensemble_accuracy(probabilities, dataset.test.y)
    member_accuracy = [float(np.mean(p.argmax(-1) == dataset.test.y)) for p in probabilities]
    seconds = time.perf_counter() - start
    summary = {
        "test_accuracy": test_accuracy,
        "member_test_accuracy": member_accuracy,
        "paper_mlp_accuracy": PAPER_MLP_ACCURACY,
        "best": {name: best[name] for name in (*SPACE.fields, METRIC)},
        "model": "MLP 40-100-100-10, Dense-BatchNorm-ReLU-Dropout, He init; adam(lr, weight_decay), batch 100",
        "configs": configs,
        "epochs": args.epochs,
        "members": members,
        "train_examples": int(dataset.train.x.shape[0]),
        "val_fraction": VAL_FRACTION,
        "test_examples": int(dataset.test.x.shape[0]),
        "seed": args.seed,
        "seconds": seconds,
        "search_seconds": searched - start,
        "loadavg": loadavg(),
        "ranking": result.rows(METRIC),
    }
    plot(result, probabilities, dataset.test.y, args.out / "search_mnist1d.png")
    write_json(args.out / "search_mnist1d.json", summary)
    print("\n".join(result.table(METRIC).splitlines()[:11]))
    print(f"best: lr {best['lr']:.3g}, weight decay {best['weight_decay']:.3g}, dropout {best['dropout']:.2f} "
          f"(validation accuracy {best[METRIC]:.3f})")
    print(f"test accuracy {test_accuracy:.3f}: ensemble of {members} retrained on all {summary['train_examples']} "
          f"training examples (members {min(member_accuracy):.3f}-{max(member_accuracy):.3f}; the MNIST-1D paper's "
          f"MLP: {PAPER_MLP_ACCURACY:.2f}) in {seconds:.0f} s")
    print(f"wrote {args.out / 'search_mnist1d.png'} and {args.out / 'search_mnist1d.json'}")
    return summary


if __name__ == "__main__":
    main()
