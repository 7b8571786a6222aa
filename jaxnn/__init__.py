"""jaxnn: a pure-JAX functional training toolkit.

- :mod:`jaxnn.optim`: optimizers as ``(init, update)`` pairs with their hyperparameters in the state.
- :mod:`jaxnn.nn`: layers as ``(init, apply)`` pairs over plain-dict params and state.
- :mod:`jaxnn.losses`: cross-entropy, mean squared error, the L2 penalty, accuracy.
- :mod:`jaxnn.masks`: which params the L2 penalty and the optimizers' ``weight_decay`` act on.
- :mod:`jaxnn.train`: ``TrainState``, pure train/eval steps and the compiled ``fit`` loop.
- :mod:`jaxnn.sweep`: search spaces and many configurations trained at once in one vmapped program.
- :mod:`jaxnn.data`: MNIST-1D (generated locally), MNIST/Fashion-MNIST IDX files, toys.
- :mod:`jaxnn.checkpoint`: atomic, checksummed pytree checkpoints.
- :func:`jaxnn.compilation_cache`: JAX's persistent compilation cache, so a new process reuses earlier compiles.
"""

from jaxnn import checkpoint, data, losses, masks, nn, optim, sweep, train
from jaxnn.cache import compilation_cache

__all__ = ["checkpoint", "compilation_cache", "data", "losses", "masks", "nn", "optim", "sweep", "train"]
__version__ = "0.1.0"
