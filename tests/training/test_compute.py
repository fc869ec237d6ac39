"""One home for where and how a model computes: the device, the layout and bf16 autocast, resolved once."""

import torch
from torch import nn

from cpc_pipeline.evaluation import SupervisedConfig
from cpc_pipeline.training.loop import Compute, TrainerConfig


def test_compute_resolves_a_trainers_settings_for_the_device():
    cpu = torch.device("cpu")
    plain = Compute.of(TrainerConfig(channels_last=False, bf16=False), cpu)
    assert (plain.layout, plain.bf16) == (torch.contiguous_format, False)
    cuda_only = Compute.of(TrainerConfig(channels_last=True, bf16="cuda"), cpu)  # bf16 "cuda": never on a CPU
    assert (cuda_only.layout, cuda_only.bf16) == (torch.channels_last, False)
    assert Compute.of(SupervisedConfig(), cpu) == Compute(cpu, channels_last=True, bf16=False)  # the same settings


def test_place_puts_convolution_weights_in_the_layout_and_autocast_follows_bf16():
    conv = Compute(torch.device("cpu"), channels_last=True).place(nn.Conv2d(3, 8, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    with Compute(torch.device("cpu"), bf16=True).autocast():
        assert torch.is_autocast_enabled("cpu")
    with Compute(torch.device("cpu"), bf16=False).autocast():
        assert not torch.is_autocast_enabled("cpu")
