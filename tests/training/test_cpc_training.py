import math

import pytest
import torch

from cpc_pipeline.data import DigitRenderer, make_sequence_table, table_to_sequences
from cpc_pipeline.losses.binary import sequence_scores
from cpc_pipeline.models import CPCModelConfig, ReferenceEncoderSpec
from cpc_pipeline.training.cpc import CPCData, CPCObjective, OwnImageBatches, best_threshold, make_cpc_method
from cpc_pipeline.training.loop import device as loop_device
from cpc_pipeline.training.loop import TrainerConfig, cpu_has_bf16_matrix_units, seed_everything, train, uses_bf16


def make_method(splits, loss="infonce", pool=128, batch=128, per_epoch=1280, seed=0, **objective):
    seed_everything(seed)
    model = CPCModelConfig(encoder=ReferenceEncoderSpec(padding=1)).build(1, 28, predict_terms=4)
    val = table_to_sequences(make_sequence_table(splits.validation.labels, 256, 4, 4, seed=1))
    thr = table_to_sequences(make_sequence_table(splits.train.labels, 256, 4, 4, seed=0))
    objective = CPCObjective(
        loss=loss,
        sequences_per_batch=batch,
        images_per_batch=pool,
        sequences_per_epoch=per_epoch,
        threshold_sequences=256,
        **objective,
    )
    data = CPCData(
        torch.as_tensor(splits.train.images),
        torch.as_tensor(splits.train.labels),
        torch.as_tensor(splits.validation.images),
        val,
        thr,
        train_sequences=thr,
    )
    return make_cpc_method(model, objective, data, DigitRenderer(28, color=False), terms=4)


def quiet(**kw):
    return TrainerConfig(progress=False, checkpoint_path=None, **kw)


@pytest.mark.slow
def test_infonce_training_on_genuine_mnist_leaves_log_n(mnist_splits):
    method = make_method(mnist_splits)
    history = train(method, quiet(epochs=2), torch.device("cpu")).history
    first = history[0]
    assert first["val_loss"] < math.log(256 * 8)  # below chance after one epoch...
    assert history[-1]["train_loss"] < 0.7 * math.log(128)  # ...and well below log N after two
    assert history[-1]["val_accuracy"] > 10 * history[-1]["val_chance_accuracy"]
    assert history[-1]["val_sequence_accuracy"] > 0.8


@pytest.mark.slow
def test_binary_training_on_genuine_mnist_leaves_ln2(mnist_splits):
    method = make_method(mnist_splits, loss="binary", pool=None, batch=64, per_epoch=64 * 40)
    history = train(method, quiet(epochs=2), torch.device("cpu")).history
    assert history[-1]["train_loss"] < 0.7 * math.log(2)  # off the ln 2 plateau
    assert history[-1]["val_sequence_accuracy"] > 0.8


@pytest.mark.parametrize("pool", [None, 64])
def test_binary_paired_negatives_share_their_positive_context_images(mnist_splits, pool):
    method = make_method(mnist_splits, loss="binary", pool=pool, batch=32)
    assert method.objective.binary_negatives == "paired"  # the default
    batch = next(method.train_batches(0, torch.Generator().manual_seed(0)))
    h = 16
    assert batch.labels.tolist() == [1] * h + [0] * h
    assert torch.equal(batch.slots[h:, :4], batch.slots[:h, :4])  # the very same rendered images
    digits = batch.digits[batch.slots]
    assert (digits[:h].diff(dim=1) % 10 == 1).all()
    assert (digits[h:, 4:] != digits[:h, 4:]).all()
    if pool is None:  # a positive renders its 8 images, its negative only 4 futures
        assert len(batch.images) == len(torch.unique(batch.slots)) == h * 12


def test_binary_independent_negatives_have_their_own_context(mnist_splits):
    method = make_method(mnist_splits, loss="binary", pool=None, batch=32, binary_negatives="independent")
    batch = next(method.train_batches(0, torch.Generator().manual_seed(0)))
    assert len(batch.images) == len(torch.unique(batch.slots)) == 32 * 8
    assert batch.labels.sum() == 16


TIMING = ("train_seconds", "epoch_seconds", "train_sequences_per_s")


class Interrupted(Exception):
    """A run killed between epochs."""


def interrupt_at(epoch: int):
    """An ``on_epoch_end`` that kills the run at the end of ``epoch``, before its checkpoint is written."""

    def callback(done: int, row) -> None:
        if done == epoch:
            raise Interrupted

    return callback


def assert_same_run(history_a, history_b, model_a, model_b):
    """Bit for bit: every metric but the clock's, and every weight and buffer."""
    assert len(history_a) == len(history_b)
    for a, b in zip(history_a, history_b):
        assert {k: v for k, v in a.items() if k not in TIMING} == {k: v for k, v in b.items() if k not in TIMING}
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


def test_two_runs_with_the_same_seed_are_identical(mnist_splits):
    runs = [make_method(mnist_splits, per_epoch=256) for _ in range(2)]
    histories = [train(m, quiet(epochs=2), torch.device("cpu")).history for m in runs]
    assert_same_run(*histories, runs[0].model, runs[1].model)
    other = make_method(mnist_splits, per_epoch=256, seed=1)
    train(other, quiet(epochs=1, seed=1), torch.device("cpu"))
    assert not torch.equal(other.model.predictors.weight, runs[0].model.predictors.weight)  # the seed matters


def test_bf16_runs_where_the_setting_and_the_hardware_say(monkeypatch):
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    for has_units in (False, True):
        monkeypatch.setattr(loop_device, "cpu_has_bf16_matrix_units", lambda: has_units)
        assert uses_bf16(True, cpu) is has_units  # true: the CPU too, where it has bf16 matrix units
        assert not uses_bf16("cuda", cpu) and not uses_bf16(False, cpu) and not uses_bf16(True, mps)
        assert uses_bf16("cuda", cuda) and uses_bf16(True, cuda) and not uses_bf16(False, cuda)


def test_bf16_training_on_a_cpu_with_matrix_units_is_reproducible(mnist_splits):
    """bf16 autocast on the CPU (oneDNN's AMX kernels) is still bitwise reproducible, and it does change the
    arithmetic: the run differs from the fp32 one."""
    if not cpu_has_bf16_matrix_units():
        pytest.skip("this CPU has no bf16 matrix units (AMX): bf16: true trains in fp32 here")
    runs = [make_method(mnist_splits, per_epoch=1280) for _ in range(2)]
    histories = [train(m, quiet(epochs=2, bf16=True), torch.device("cpu")).history for m in runs]
    assert_same_run(*histories, runs[0].model, runs[1].model)
    fp32 = make_method(mnist_splits, per_epoch=1280)
    train(fp32, quiet(epochs=2, bf16=False), torch.device("cpu"))
    assert not torch.equal(fp32.model.predictors.weight, runs[0].model.predictors.weight)
    assert histories[0][-1]["val_sequence_accuracy"] > 0.8  # and it learns as fp32 does


def test_resume_ends_where_an_uninterrupted_run_ends(mnist_splits, tmp_path):
    ckpt = str(tmp_path / "ckpt.pt")
    straight = make_method(mnist_splits, per_epoch=256)
    full = train(straight, quiet(epochs=3), torch.device("cpu")).history

    first = make_method(mnist_splits, per_epoch=256)
    with pytest.raises(Interrupted):  # the same run, killed after its first epoch's checkpoint
        train(
            first,
            TrainerConfig(epochs=3, progress=False, checkpoint_path=ckpt),
            torch.device("cpu"),
            on_epoch_end=interrupt_at(2),
        )
    second = make_method(mnist_splits, per_epoch=256, seed=123)  # different init: the checkpoint wins
    resumed = train(
        second, TrainerConfig(epochs=3, progress=False, checkpoint_path=ckpt, resume=True), torch.device("cpu")
    )

    assert resumed.resumed_from_epoch == 1
    assert_same_run(resumed.history, full, second.model, straight.model)


def test_resume_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint at"):
        TrainerConfig(resume=True, checkpoint_path=str(tmp_path / "missing.pt"))


def test_early_stop_at_target(mnist_splits):
    method = make_method(mnist_splits, per_epoch=256)
    result = train(
        method, quiet(epochs=5, early_stop_metric="val_sequence_accuracy", early_stop_target=0.0), torch.device("cpu")
    )
    assert len(result.history) == 1 and result.stopped_early


def test_best_threshold_separates():
    scores = torch.tensor([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert 0.3 < best_threshold(scores, labels) < 0.9


def test_evaluation_encodes_each_distinct_image_once_with_unchanged_scores(mnist_splits):
    """Grey rendering is deterministic, so one shared code per distinct image must leave every score as the
    per-sequence forward pass (each sequence its own 8 images) computes it."""
    method = make_method(mnist_splits, loss="binary", pool=None)
    method.model.eval()
    table, images = method.evaluator.data.validation_sequences, method.evaluator.data.validation_images
    encoded = []
    hook = method.model.encoder.register_forward_hook(lambda module, args, out: encoded.append(len(args[0])))
    with torch.no_grad():
        shared, _ = method.evaluator.score_table(table, images, None)
        hook.remove()
        assert isinstance(method.batches, OwnImageBatches)  # images_per_batch None: every position its own
        batch = method.batches.render(table, images, None)
        _, predictions, futures = method.model(batch.images, batch.slots)
    assert sum(encoded) == len(torch.unique(table.image_indices)) < table.image_indices.numel()
    torch.testing.assert_close(shared, sequence_scores(predictions, futures), rtol=1e-4, atol=1e-5)


def test_fixed_sampling_walks_the_train_table_once_per_epoch(mnist_splits):
    method = make_method(mnist_splits, pool=None, batch=32, train_sampling="fixed")
    table = method.evaluator.data.train_sequences
    batches = list(method.train_batches(0, torch.Generator().manual_seed(0)))
    assert len(batches) == method.steps_per_epoch
    shown = torch.cat([b.digits[b.slots] for b in batches])  # every position its own rendered image
    positives = table.digits[table.labels == 1]
    assert len(shown) == len(positives) and all(len(b.images) == 8 * len(b.labels) for b in batches)
    assert sorted(map(tuple, shown.tolist())) == sorted(map(tuple, positives.tolist()))  # each row once


def test_the_progress_bar_knows_its_total_on_a_terminal_and_stays_quiet_in_a_log(mnist_splits, monkeypatch):
    import io
    import sys

    method = make_method(mnist_splits, per_epoch=256, batch=64, pool=64)
    assert method.steps_per_epoch == 4
    for tty in (True, False):
        stream = io.StringIO()
        stream.isatty = lambda tty=tty: tty
        monkeypatch.setattr(sys, "stderr", stream)
        train(method, TrainerConfig(epochs=1, checkpoint_path=None, progress=True), torch.device("cpu"))
        if tty:
            assert "/4 [" in stream.getvalue() and "<" in stream.getvalue()  # n/total [elapsed<remaining]
        else:
            assert stream.getvalue() == ""  # a log file gets the epoch's INFO line, no bar fragments


def test_each_epoch_records_its_training_flops(mnist_splits):
    """``train_flops``: the forward and backward FLOPs of an epoch's steps, counted by torch on the first step."""
    from torch.utils.flop_counter import FlopCounterMode

    method = make_method(mnist_splits, per_epoch=256)
    history = train(method, quiet(epochs=2), torch.device("cpu")).history
    fresh = make_method(mnist_splits, per_epoch=256)
    batch = next(iter(fresh.train_batches(0, torch.Generator().manual_seed(0))))
    with FlopCounterMode(display=False) as counter:
        fresh.training_step(batch)[0].backward()
    assert counter.get_total_flops() > 0
    assert [row["train_flops"] for row in history] == [counter.get_total_flops() * fresh.steps_per_epoch] * 2
