"""An ensemble of k MLPs from different seeds, trained as one vmapped program, beats each of its members.

k copies of the MNIST-1D baseline MLP (40-100-100-10, ReLU, He init, Adam lr 1e-3, batch 100)
start from k different initialisation keys and train together: their ``TrainState`` s are stacked on a
leading axis and ``train.fit_stack`` trains them in one compiled epoch. Every member sees
the same minibatches, so the members differ only by their initialisation. The ensemble predicts the mean
of the members' softmax probabilities. Writes ``ensembles.png`` (test accuracy per epoch of every member;
final test accuracy of each member and of the ensemble of the first k members) and ``ensembles.json``.

    python experiments/ensembles.py --out results
    python experiments/ensembles.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, history_lists, load, parse_args, write_json
from experiments._ensemble import ensemble_accuracy, member_probabilities
from experiments._models import mnist1d_mlp
from jaxnn import optim, train


def plot(history: dict[str, np.ndarray], members: list[float], by_size: list[float], out: Path) -> None:
    fig, (ax_curve, ax_k) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, history["test_accuracy"].shape[1] + 1)
    for i, curve in enumerate(history["test_accuracy"]):
        ax_curve.plot(epochs, curve, color="0.6", linewidth=0.8, label="members" if i == 0 else None)
    ax_curve.set(xlabel="epoch", ylabel="test accuracy", title="each member during training")
    k = np.arange(1, len(members) + 1)
    ax_k.plot(k, members, "o", color="0.5", label="member i alone")
    ax_k.plot(k, by_size, "o-", color="C3", label="ensemble of members 1..k")
    ax_k.set(xlabel="k", ylabel="test accuracy", title="final test accuracy", xticks=k)
    for ax in (ax_curve, ax_k):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv, **DATA_OPTIONS,
        members={"type": int, "default": 8, "help": "ensemble size k (default 8)"},
        epochs=(60, 2),
    )
    epochs = args.epochs
    dataset = load(args)
    model = mnist1d_mlp(classes=int(dataset.train.y.max()) + 1)
    opt = optim.adam(lr=1e-3)
    shape = dataset.train.x.shape[1:]
    seeds = range(args.seed, args.seed + args.members)
    states = train.stack([train.create(model, opt, jax.random.key(seed), shape) for seed in seeds])
    states, history = train.fit_stack(states, train.make_train_step(model, opt), dataset.train, epochs,
                                      batch_size=100, eval_sets={"test": dataset.test},
                                      eval_step=train.make_eval_step(model), eval_batch_size=len(dataset.test.x),
                                      order_key=jax.random.key(args.seed), progress=False)
    probs = member_probabilities(model, states, dataset.test.x)
    members = [float(np.mean(p.argmax(-1) == dataset.test.y)) for p in probs]
    by_size = [ensemble_accuracy(probs[:k], dataset.test.y) for k in range(1, args.members + 1)]
    summary = {
        **describe(args, dataset),
        "model": "MLP in-100-100-classes, ReLU, He init; adam(lr=1e-3), batch 100",
        "members": args.members,
        "epochs": epochs,
        "member_test_accuracy": members,
        "mean_member_test_accuracy": float(np.mean(members)),
        "ensemble_test_accuracy": by_size[-1],
        "ensemble_test_accuracy_by_size": by_size,
        "history": history_lists(history),
    }
    plot(history, members, by_size, args.out / "ensembles.png")
    write_json(args.out / "ensembles.json", summary)
    print(f"members: {' '.join(f'{a:.3f}' for a in members)} (mean {np.mean(members):.3f}, best {max(members):.3f})")
    print(f"ensemble of {args.members}: {by_size[-1]:.3f}")
    print(f"wrote {args.out / 'ensembles.png'} and {args.out / 'ensembles.json'}")
    return summary


if __name__ == "__main__":
    main()
