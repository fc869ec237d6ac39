"""The encoders' in-place activations: the same outputs, gradients and BatchNorm statistics as out of place."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cpc_pipeline.models import EncoderSpec


@pytest.mark.parametrize(
    "spec",
    [
        {"arch": "reference", "norm": "batch"},
        {"arch": "reference", "norm": "none"},
        {"arch": "reference", "norm": "layer"},
        {"arch": "patches", "size": 16, "stride": 8, "patch_encoder": {"arch": "reference", "norm": "layer"}},
    ],
)
def test_in_place_activations_change_no_value_and_no_gradient(spec):
    torch.manual_seed(0)
    in_place = EncoderSpec.model_validate(spec).build(3, 64)
    copied = copy.deepcopy(in_place)
    activations = [m for m in copied.modules() if isinstance(m, nn.LeakyReLU)]
    assert activations and all(m.inplace for m in activations)
    for m in activations:
        m.inplace = False
    x = torch.rand(16, 3, 64, 64) * 2 - 1
    results = []
    for model in (in_place, copied):
        out = model.train()(x)
        out.square().mean().backward()
        with torch.no_grad():
            evaluated = model.eval()(x)
        results.append([out.detach(), evaluated, *(p.grad for p in model.parameters()), *model.buffers()])
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_cpc_validation_encodes_in_chunks_with_the_codes_of_one_call():
    from types import SimpleNamespace

    from cpc_pipeline.training.cpc import ENCODE_IMAGES, CPCEvaluator

    torch.manual_seed(0)
    encoder = EncoderSpec.model_validate({"arch": "reference", "norm": "batch"}).build(3, 64)
    encoder.train()(torch.rand(64, 3, 64, 64))  # BatchNorm statistics away from their initial values
    encoder = encoder.eval().to(memory_format=torch.channels_last)
    evaluator = CPCEvaluator(SimpleNamespace(encoder=encoder), None, None, None, torch.channels_last)
    pictures = torch.rand(2 * ENCODE_IMAGES + 37, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(evaluator.encode(pictures), encoder(pictures.contiguous(memory_format=torch.channels_last)))
