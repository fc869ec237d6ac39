import pytest
import torch

from cpc_pipeline.models import CPCModel, CPCModelConfig, ReferenceEncoder


@pytest.mark.parametrize("norm", ["batch", "layer", "group", "none"])
def test_encoder_on_64px_rgb(norm):
    enc = ReferenceEncoder(3, 64, norm=norm)
    assert enc(torch.randn(5, 3, 64, 64)).shape == (5, 128)
    assert enc.head[0].in_features == 64 * 3 * 3  # 64 -> 31 -> 15 -> 7 -> 3, as the reference


def test_encoder_on_28px_grey_needs_padding():
    assert ReferenceEncoder(1, 28, padding=1)(torch.randn(4, 1, 28, 28)).shape == (4, 128)
    with pytest.raises(ValueError, match="padding 1"):
        ReferenceEncoder(1, 28, padding=0)


def test_cpc_model_shapes_and_zero_initial_predictions():
    model = CPCModelConfig().build(3, 64, predict_terms=4)
    codes, preds, futures = model(torch.randn(16, 3, 64, 64), torch.arange(16).view(2, 8))  # a pool of 16 images
    assert codes.shape == (16, 128)
    assert preds.shape == futures.shape == (2, 4, 128)
    assert torch.count_nonzero(preds) == 0  # W_k start at zero: InfoNCE starts at log N
    assert model.context(torch.randn(2, 4, 128)).shape == (2, 256)


def test_unknown_norm():
    with pytest.raises(ValueError, match="norm must be one of"):
        ReferenceEncoder(norm="instance")


def test_predictors_are_one_map_per_step():
    model = CPCModel(ReferenceEncoder(), predict_terms=3)
    torch.nn.init.normal_(model.predictors.weight)
    c = torch.randn(1, 256)
    full = model.predictors(c).view(1, 3, 128)
    w = model.predictors.weight.view(3, 128, 256)
    b = model.predictors.bias.view(3, 128)
    for k in range(3):  # step k's prediction uses only W_k
        torch.testing.assert_close(full[0, k], w[k] @ c[0] + b[k])
