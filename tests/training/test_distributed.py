"""Gathered losses on two gloo processes equal one process on the global batch: the loss, and the
encoder's gradients after DDP's averaging, to 1e-5 (cpc_pipeline.training.distributed)."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cpc_pipeline.losses.infonce import info_nce
from cpc_pipeline.losses.ntxent import nt_xent
from cpc_pipeline.training import distributed

WORLD, IMAGES, SEQUENCES, STEPS, DIM = 2, 6, 5, 3, 4


class CPCToy(nn.Module):
    """An encoder for images (8 numbers each) and a predictor of STEPS future codes from a context."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, DIM))
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
    return info_nce(gather(predictions), gather(pool_codes), gather(b["target_global"]), gather(b["digits"]),
                    negatives="different_digit").loss


CASES = {"nt_xent": (encoder, simclr_loss), "info_nce": (CPCToy, cpc_loss)}


def loss_and_gradients(model: nn.Module, loss: torch.Tensor) -> tuple[float, dict[str, torch.Tensor]]:
    loss.backward()
    return loss.item(), {name.removeprefix("module."): p.grad.clone() for name, p in model.named_parameters()}


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
            model = DistributedDataParallel(make())
            results[name] = loss_and_gradients(model, loss_fn(model, b, gather=distributed.gather))
        local = simclr_loss(encoder(), b, gather=lambda t: t).item()  # this rank's slice only
        torch.save({"results": results, "local_nt_xent": local}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gathered_losses_and_gradients_equal_one_process_on_the_global_batch(tmp_path):
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


def test_one_process_helpers_are_the_identity():
    t = torch.arange(6).view(3, 2)
    assert distributed.gather(t) is t
    assert distributed.rank() == 0 and distributed.world_size() == 1
    assert torch.equal(distributed.global_index(t, 10), t)


def test_simclr_refuses_several_processes_up_front():
    from pydantic import ValidationError

    from cpc_pipeline.training.simclr import SimCLRConfig

    with pytest.raises(ValidationError, match="nproc_per_node must be 1 for SimCLR"):
        SimCLRConfig.model_validate({"trainer": {"distributed": {"nproc_per_node": 2}}})
    assert not SimCLRConfig().trainer.distributed.enabled
