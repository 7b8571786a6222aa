"""Train one MLP on MNIST-1D with Adam: the single-run baseline the search and other experiments build on.

MNIST-1D (Greydanus 2020) is generated locally (4,000 train / 1,000 test sequences of 40 values, 10 classes),
so this runs anywhere without a download. The model is the paper's MLP baseline shape, 40-100-100-10 with ReLU
and He initialisation, trained with Adam (lr 1e-2, batch 100) by ``jaxnn.train.fit``: every epoch is one
compiled ``lax.scan``. Prints per-epoch progress and the final test accuracy (the paper reports 68% for its MLP),
and writes ``train_mnist1d.png`` (learning curves) and ``train_mnist1d.json``.

    python experiments/train_mnist1d.py --out results
    python experiments/train_mnist1d.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt

from experiments._cli import parse_args, write_json
from experiments._models import mnist1d_mlp
from jaxnn import data, optim, train

PAPER_MLP_ACCURACY = 0.68


def plot(history: dict, out: Path) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(history["epoch"], history["loss"], label="train")
    ax_loss.plot(history["epoch"], history["test_loss"], label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(history["epoch"], history["accuracy"], label="train")
    ax_acc.plot(history["epoch"], history["test_accuracy"], label="test")
    ax_acc.axhline(PAPER_MLP_ACCURACY, color="0.5", linestyle=":", label="paper's MLP (68%)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv,
        epochs=(150, 3),
        lr={"type": float, "default": 1e-2, "help": "Adam learning rate (default 1e-2)"},
        batch_size={"type": int, "default": 100},
        seed={"type": int, "default": 0},
        dataset={"choices": ["mnist1d", "mnist", "fashion_mnist"], "default": "mnist1d"},
        data_dir={"type": Path, "default": None, "help": "folder with the IDX files (mnist, fashion_mnist)"},
    )
    epochs = args.epochs
    dataset = data.load(args.dataset, args.data_dir) if args.data_dir else data.load(args.dataset)
    model = mnist1d_mlp(classes=int(dataset.train.y.max()) + 1)
    opt = optim.adam(lr=args.lr)
    ts = train.create(model, opt, jax.random.key(args.seed), dataset.train.x.shape[1:])

    def report(epoch: int, record: dict) -> None:
        print(f"epoch {epoch:4d}/{epochs}  train loss {record['loss']:.4f}  acc {record['accuracy']:.3f}"
              f"  |  test loss {record['test_loss']:.4f}  acc {record['test_accuracy']:.3f}", flush=True)

    start = time.perf_counter()
    ts, history = train.fit(ts, train.make_train_step(model, opt), dataset.train, epochs, args.batch_size,
                            eval_sets={"test": dataset.test}, eval_step=train.make_eval_step(model), callbacks=report,
                            progress=False)
    seconds = time.perf_counter() - start
    best = max(history["test_accuracy"])
    summary = {
        "dataset": args.dataset,
        "train_examples": int(dataset.train.x.shape[0]),
        "test_examples": int(dataset.test.x.shape[0]),
        "model": "MLP 40-100-100-10, ReLU, He init" if args.dataset == "mnist1d" else "MLP in-100-100-10",
        "optimizer": f"adam(lr={args.lr})",
        "epochs": epochs,
        "batch_size": args.batch_size,
        "steps": int(ts.step),
        "final_test_accuracy": history["test_accuracy"][-1],
        "best_test_accuracy": best,
        "paper_mlp_accuracy": PAPER_MLP_ACCURACY if args.dataset == "mnist1d" else None,
        "seconds": seconds,
        "history": history,
    }
    plot(history, args.out / "train_mnist1d.png")
    write_json(args.out / "train_mnist1d.json", summary)
    print(f"final test accuracy {history['test_accuracy'][-1]:.3f} (best {best:.3f}; the MNIST-1D paper's MLP: "
          f"{PAPER_MLP_ACCURACY:.2f}) after {int(ts.step)} steps in {seconds:.1f} s")
    print(f"wrote {args.out / 'train_mnist1d.png'} and {args.out / 'train_mnist1d.json'}")
    return summary


if __name__ == "__main__":
    main()
