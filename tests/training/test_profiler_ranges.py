"""The training loop's profiler ranges (benchmarks/stage_efficiency.py reads them): every phase of every
step is a range of its own, making a batch included although it runs lazily inside the method's generator."""

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from cpc_pipeline.evaluation.probes import ClassificationMethod
from cpc_pipeline.training.loop import PHASES, TrainerConfig, train


def test_each_step_phase_and_the_evaluation_is_one_profiler_range():
    torch.manual_seed(0)
    made = []

    def transform(x, generator):
        with torch.profiler.record_function("data.render"):
            made.append(len(x))
            return x * 2

    method = ClassificationMethod(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        torch.randn(40, 4),
        torch.randint(0, 3, (40,)),
        torch.randn(8, 4),
        torch.randint(0, 3, (8,)),
        10,
        transform=transform,
    )
    config = TrainerConfig(epochs=2, checkpoint_path=None, progress=False, log_epochs=False)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train(method, config, torch.device("cpu"))
    spans = {name: [] for name in (*PHASES, "data.render")}
    for event in prof.events():
        if event.name in spans:
            spans[event.name].append(event.time_range)
    steps = 2 * method.steps_per_epoch
    # one batch range more per epoch: the request that finds the generator exhausted
    assert [len(spans[name]) for name in PHASES] == [steps + 2, steps, steps, steps, 2]
    batch_ranges = spans[PHASES[0]]
    # every training render lies inside a batch range: the lazy generator is not blamed on the step
    training_renders = [
        r for r in spans["data.render"] if not any(e.start <= r.start and r.end <= e.end for e in spans[PHASES[4]])
    ]
    assert len(training_renders) == steps
    assert all(any(b.start <= r.start and r.end <= b.end for b in batch_ranges) for r in training_renders)
