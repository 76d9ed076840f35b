"""Tests for lstm.memory: a model too large for the machine is refused before it is built."""
import pytest

from lstm.layers import SequenceModel
from lstm.memory import ModelTooLarge, available_memory, check_model_fits, model_bytes


@pytest.mark.parametrize("cell, peephole, layers", [("lstm", False, 1), ("lstm", True, 2), ("gru", False, 1),
                                                    ("rnn", False, 3)])
def test_the_estimate_bounds_every_cell_kind(cell, peephole, layers):
    model = SequenceModel(cell, 3, 7, 2, n_layers=layers, peephole=peephole)
    n_params = sum(p.get_value().size for p in model.params)
    assert 6 * 8 * n_params <= model_bytes(7, layers, 3, 2) <= 6 * 8 * 4 * n_params + 6 * 8 * 100


def test_too_large_is_refused_with_the_sizes():
    assert check_model_fits(32, available=10 ** 9) == model_bytes(32)
    with pytest.raises(ModelTooLarge, match=r"1000000000 hidden units x 1 layer\(s\) needs about .* GiB to train, "
                                            r"but only 1.0 GiB"):
        check_model_fits(10 ** 9, available=2 ** 30)
    assert available_memory() is None or available_memory() > 0
