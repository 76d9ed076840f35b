"""LSTM models built on minigraph, using only its public API (``minigraph``, ``minigraph.tensor``).

    from lstm import SequenceModel, mse, adam, clip_grad_norm, save_checkpoint, load_checkpoint

Modules: ``cells`` (LSTMCell, RNNCell, GRUCell), ``layers`` (Recurrent, Dense, StackedRNN,
SequenceModel, losses), ``optim`` (optimisers as updates, clipping, schedules), ``checkpoint``
(atomic .npz checkpoints), ``train`` (the training loop), ``data`` (data sets), ``reference`` (numpy
reference nets); ``stock``, ``tasks``, ``sweep`` (with ``results``), ``gradflow`` and ``cli`` hold the examples
and the ``lstm`` command.
"""
from .cells import GRUCell, LSTMCell, RNNCell
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .layers import (Dense, Recurrent, SequenceModel, StackedRNN, binary_cross_entropy, cross_entropy, make_cell,
                     mse)
from .optim import OptimState, StepDecay, adam, clip_grad_norm, global_norm, momentum, rmsprop, sgd
from .train import History, ProgressBar, Trainer

__all__ = [
    # cells
    "LSTMCell", "RNNCell", "GRUCell",
    # layers and losses
    "Recurrent", "Dense", "StackedRNN", "SequenceModel", "make_cell", "mse", "cross_entropy",
    "binary_cross_entropy",
    # optimisers
    "OptimState", "sgd", "momentum", "rmsprop", "adam", "clip_grad_norm", "global_norm", "StepDecay",
    # training
    "Trainer", "History", "ProgressBar",
    # checkpoints
    "save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "CheckpointError",
]
