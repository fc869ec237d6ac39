"""Gathered losses on two gloo processes equal one process on the global batch: the loss, and the
encoder's gradients after DDP's averaging, to 1e-5 (cpc_pipeline.training.distributed)."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from cpc_pipeline.losses.infonce import info_nce
from cpc_pipeline.losses.ntxent import nt_xent
from cpc_pipeline.models import SimCLRModel
from cpc_pipeline.training import distributed
from cpc_pipeline.training.simclr import SimCLRMethod, SimCLRObjective

WORLD, IMAGES, SEQUENCES, STEPS, DIM = 2, 6, 5, 3, 4


class CPCToy(nn.Module):
    """An encoder for images (8 numbers each) and a predictor of STEPS future codes from a context."""

    def __init__(self, batchnorm: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        norm = [nn.BatchNorm1d(16)] if batchnorm else []
        self.encoder = nn.Sequential(nn.Linear(8, 16), *norm, nn.Tanh(), nn.Linear(16, DIM))
        self.predictor = nn.Linear(8, STEPS * DIM)

    def forward(self, images: torch.Tensor, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(images), self.predictor(contexts).view(-1, STEPS, DIM)


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, DIM))


def batch() -> dict[str, torch.Tensor]:
    """The global batch, rank-major: rank r holds rows r*n:(r+1)*n of every tensor."""
    g = torch.Generator().manual_seed(1)
    return {
        "view_a": torch.randn(WORLD * IMAGES, 8, generator=g),
        "view_b": torch.randn(WORLD * IMAGES, 8, generator=g),
        "pool": torch.randn(WORLD * IMAGES, 8, generator=g),
        "digits": torch.randint(0, 3, (WORLD * IMAGES,), generator=g),
        "contexts": torch.randn(WORLD * SEQUENCES, 8, generator=g),
        "target": torch.randint(0, IMAGES, (WORLD * SEQUENCES, STEPS), generator=g),  # local pool indices
    }


def simclr_loss(model: nn.Module, b: dict, gather) -> torch.Tensor:
    view_a, view_b = model(torch.cat([b["view_a"], b["view_b"]])).chunk(2)
    return nt_xent(gather(view_a), gather(view_b)).loss


def cpc_loss(model: nn.Module, b: dict, gather) -> torch.Tensor:
    pool_codes, predictions = model(b["pool"], b["contexts"])
    return info_nce(
        gather(predictions),
        gather(pool_codes),
        gather(b["target_global"]),
        gather(b["digits"]),
        negatives="different_digit",
    ).loss


CASES = {
    "nt_xent": (encoder, simclr_loss),
    "info_nce": (CPCToy, cpc_loss),
    "info_nce_batchnorm": (lambda: CPCToy(batchnorm=True), cpc_loss),
}


def loss_and_gradients(model: nn.Module, loss: torch.Tensor) -> tuple[float, dict[str, torch.Tensor]]:
    loss.backward()
    grads = {name.removeprefix("module."): p.grad.clone() for name, p in model.named_parameters()}
    return loss.item(), grads | {name.removeprefix("module."): b.clone() for name, b in model.named_buffers()}


def one_process() -> dict:
    b = batch()
    b["target_global"] = b["target"] + torch.arange(WORLD).repeat_interleave(SEQUENCES)[:, None] * IMAGES
    results = {}
    for name, (make, loss_fn) in CASES.items():
        model = make()
        results[name] = loss_and_gradients(model, loss_fn(model, b, gather=lambda t: t))
    return results


def worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        b = {key: value.chunk(WORLD)[rank] for key, value in batch().items()}
        b["target_global"] = distributed.global_index(b["target"], IMAGES)
        results = {}
        for name, (make, loss_fn) in CASES.items():
            model = distributed.data_parallel(make(), distributed.DistributedConfig(), torch.device("cpu"))
            results[name] = loss_and_gradients(model, loss_fn(model, b, gather=distributed.gather))
        local = simclr_loss(encoder(), b, gather=lambda t: t).item()  # this rank's slice only
        per_rank = distributed.data_parallel(
            CPCToy(batchnorm=True), distributed.DistributedConfig(batchnorm="per_rank"), torch.device("cpu")
        )
        per_rank = loss_and_gradients(per_rank, cpc_loss(per_rank, b, gather=distributed.gather))
        torch.save({"results": results, "local_nt_xent": local, "per_rank": per_rank}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gathered_losses_and_gradients_equal_one_process_on_the_global_batch(tmp_path):
    """And with BatchNorm synchronised (the default, GlobalBatchNorm on the CPU): the gradients and the
    running statistics too. Per-rank BatchNorm gives neither."""
    reference = one_process()
    mp.spawn(worker, args=(distributed.free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for name, (loss, grads) in reference.items():
        for r, saved in enumerate(ranks):
            got_loss, got_grads = saved["results"][name]
            assert abs(got_loss - loss) < 1e-5, (name, r, got_loss, loss)
            for param, grad in grads.items():
                torch.testing.assert_close(got_grads[param], grad, atol=1e-5, rtol=0, msg=f"{name} {param} rank {r}")
    # without the gather each rank contrasts against half the negatives: a different loss
    assert abs(ranks[0]["local_nt_xent"] - reference["nt_xent"][0]) > 1e-3
    # per-rank BatchNorm: each rank's own statistics, not the global batch's
    loss, grads = reference["info_nce_batchnorm"]
    per_rank_loss, per_rank_grads = ranks[0]["per_rank"]
    assert abs(per_rank_loss - loss) > 1e-4
    assert not torch.allclose(per_rank_grads["encoder.1.running_mean"], grads["encoder.1.running_mean"], atol=1e-4)


def test_one_process_helpers_are_the_identity():
    t = torch.arange(6).view(3, 2)
    assert distributed.gather(t) is t
    assert distributed.rank() == 0 and distributed.world_size() == 1
    assert torch.equal(distributed.global_index(t, 10), t)


def _epoch_shares() -> dict:
    """In a launched worker: which images SimCLR's batches hand this rank in one epoch (rank 0 returns both)."""
    from cpc_pipeline.training.distributed import DistributedConfig
    from cpc_pipeline.training.loop import epoch_generator

    config = DistributedConfig(nproc_per_node=2, timeout_s=60)
    distributed.init_worker(config, torch.device("cpu"))
    try:
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        encoder.code_size = 3
        method = SimCLRMethod(
            SimCLRModel(encoder, 2),
            SimCLRObjective(images_per_batch=3),
            lambda images, generator: images.float()[:, None, None, None].expand(-1, 1, 2, 2),
            torch.arange(12),
            torch.zeros(12, dtype=torch.long),
            torch.arange(4),
            torch.zeros(4),
        )
        method.augment = lambda pictures, generator: pictures  # the images themselves: their values say which
        generator = epoch_generator(torch.device("cpu"), seed=0, epoch=0, rank=distributed.rank())
        mine = [views[:3, 0, 0, 0].round().long() for views in method.train_batches(0, generator)]
        shares = [None, None]
        dist.all_gather_object(shares, (distributed.rank(), torch.stack(mine).tolist()))
        return {"steps": method.steps_per_epoch, "shares": dict(shares)}
    finally:
        dist.destroy_process_group()


def test_simclr_splits_an_epoch_between_the_processes():
    """One shared order: at each step the two ranks take disjoint images, and together the epoch's steps
    cover every training image once (12 images, 3 per rank and step: 2 steps)."""
    result = distributed.launch(distributed.DistributedConfig(nproc_per_node=2, timeout_s=60), _epoch_shares)
    assert result["steps"] == 2
    rank0, rank1 = (torch.tensor(result["shares"][r]) for r in (0, 1))
    assert rank0.shape == rank1.shape == (2, 3)
    assert sorted(torch.cat([rank0.flatten(), rank1.flatten()]).tolist()) == list(range(12))


def _train_on_rank_dependent_data() -> None:
    distributed.init_worker(distributed.DistributedConfig(nproc_per_node=2, timeout_s=60), torch.device("cpu"))
    try:
        same = {"table": __import__("pandas").DataFrame({"digit": [1, 2, 3]}), "config": {"lr": 0.1}}
        distributed.check_same_inputs(same["table"], same["config"], torch.arange(4))  # equal everywhere: passes
        distributed.check_same_inputs(same["table"], torch.arange(4) + distributed.rank())
    finally:
        dist.destroy_process_group()


def test_ranks_given_different_inputs_fail_with_one_error():
    with pytest.raises(
        RuntimeError, match=r"failed in rank \d of 2: .*ranks \[1\] were given inputs different from rank 0's"
    ):
        distributed.launch(distributed.DistributedConfig(nproc_per_node=2, timeout_s=60), _train_on_rank_dependent_data)


def test_distributed_parameters_are_checked_up_front():
    from pydantic import ValidationError

    from cpc_pipeline.training.distributed import DistributedConfig
    from cpc_pipeline.training.simclr import SimCLRConfig

    assert SimCLRConfig.model_validate({"trainer": {"distributed": {"nproc_per_node": 2}}}).trainer.distributed.enabled
    assert not SimCLRConfig().trainer.distributed.enabled
    assert DistributedConfig(nnodes=2, rdzv_endpoint="10.0.0.1:29400").enabled
    with pytest.raises(ValidationError, match="rdzv_endpoint needs a fixed port when nnodes > 1"):
        DistributedConfig(nnodes=2)
    with pytest.raises(ValidationError, match="batchnorm"):
        DistributedConfig(batchnorm="global")


def test_an_unreachable_rendezvous_fails_after_its_timeout_with_one_clear_error():
    """A second machine that never joins: the launcher gives up after timeout_s, it does not hang."""
    import time

    config = distributed.DistributedConfig(
        nnodes=2, rdzv_endpoint=f"127.0.0.1:{distributed.free_port()}", rdzv_id="lonely", timeout_s=3
    )
    started = time.monotonic()
    with pytest.raises(
        RuntimeError,
        match=r"rendezvous at 127\.0\.0\.1:\d+ .* did not gather 2 machine\(s\) within "
        r"trainer\.distributed\.timeout_s=3 s",
    ):
        distributed.launch(config, _epoch_shares)
    assert time.monotonic() - started < 60


def test_two_processes_train_what_one_process_trains_on_their_global_batch(mnist_splits):
    """Pooled CPC: two processes of 20 images and 8 sequences each draw one process's batches of 40 and 16
    (from rank 0's generator) and split them, with BatchNorm synchronised: after an epoch of 6 steps the
    weights and the history equal one process's, up to float rounding (2 x 1 thread against 2 threads).
    SGD, because Adam's first steps divide each gradient by its own size: an element whose gradient is
    rounding noise moves by +-lr either way, so Adam's weights cannot be compared to a tolerance."""
    from cpc_pipeline.data import make_sequence_table
    from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
    from cpc_pipeline.training.cpc import CPCInputs, PretrainingConfig, fit_cpc

    sequences = SequenceConfig()
    inputs = CPCInputs(
        mnist_splits.train,
        mnist_splits.validation,
        make_sequence_table(mnist_splits.train.labels, 256, 4, 4, seed=0),
        make_sequence_table(mnist_splits.validation.labels, 256, 4, 4, seed=1),
        sequences,
        RenderingConfig(image_size=28, color=False),
    )

    def config(processes: int) -> PretrainingConfig:
        return PretrainingConfig.model_validate(
            {
                "model": {"encoder": {"padding": 1}},
                "objective": {
                    "sequences_per_batch": 16 // processes,
                    "images_per_batch": 40 // processes,
                    "sequences_per_epoch": 96,
                    "threshold_sequences": 256,
                },
                "trainer": {
                    "optimizer": "sgd",
                    "learning_rate": 0.1,
                    "epochs": 1,
                    "progress": False,
                    "checkpoint_path": None,
                    "seed": 0,
                    "distributed": {"nproc_per_node": processes, "timeout_s": 120},
                },
            }
        )

    one, one_history = fit_cpc(inputs, config(1))
    two, two_history = fit_cpc(inputs, config(2))
    assert two_history[0]["world_size"] == 2 and two_history[0]["global_images_per_batch"] == 40
    for key, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[key], value, atol=3e-4, rtol=1e-3, msg=key)
    assert abs(two_history[0]["train_loss"] - one_history[0]["train_loss"]) < 1e-4
    moved = (one.predictors.weight - config(1).model.build(1, 28, 4).predictors.weight).abs().max()
    assert moved > 1e-3  # it trained: the comparison is not between two untouched models
