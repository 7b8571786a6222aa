"""Layers as pure ``(init, apply)`` pairs over plain-dict params and state.

Example::

    from jaxnn import nn

    model = nn.Sequential([
        nn.Dense(100, w_init=nn.init.he_normal()), nn.BatchNorm(), nn.relu, nn.Dropout(0.2),
        nn.Dense(10),
    ])
    init_key, dropout_key = jax.random.split(jax.random.key(0))
    params, state = model.init(init_key, (784,))     # input_shape of one example, no batch axis
    x, x_test = jnp.ones((32, 784)), jnp.ones((8, 784))
    logits, state = model.apply(params, state, x, train=True, key=dropout_key)
    logits, _ = model.apply(params, state, x_test)

See :mod:`jaxnn.nn.layer` for the contract every layer follows.
"""

from jaxnn.nn import init
from jaxnn.nn.activations import Maxout, elu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from jaxnn.nn.batchnorm import BatchNorm
from jaxnn.nn.conv import Conv1D, Conv2D
from jaxnn.nn.dense import Dense
from jaxnn.nn.dropout import Dropout
from jaxnn.nn.flatten import Flatten
from jaxnn.nn.foreign import from_equinox, from_flax, from_nnx
from jaxnn.nn.layer import Layer
from jaxnn.nn.pooling import AvgPool, MaxPool
from jaxnn.nn.residual import Residual
from jaxnn.nn.sequential import Sequential

__all__ = [
    "AvgPool",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool",
    "Maxout",
    "Residual",
    "Sequential",
    "elu",
    "from_equinox",
    "from_flax",
    "from_nnx",
    "init",
    "leaky_relu",
    "log_softmax",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]
