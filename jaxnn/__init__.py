"""jaxnn: a pure-JAX functional training toolkit."""

from jaxnn import optim

__all__ = ["optim"]
__version__ = "0.1.0"
