"""Each speed step of the CPC pipeline measured before and after, on one machine.

    .venv/bin/python benchmarks/speed_steps.py [--device auto] [--repeats 5] [--mnist-root ../shared/data]

Steps (each row: the "before" setting, the "after" setting the project uses, items/s of both):

- data: the public Keras code's way of making a batch (Python loop per image: scipy zoom, crop, colour
  shift, inversion in numpy) against sampling and rendering on the training device (MNIST resident as
  uint8, one batched call), for the reference's batch of 32 sequences x 8 images;
- channels_last off/on, CPU threads 1/all, a host sync per step (``.item()`` of every metric) against
  metrics accumulated on the device, for the default pooled CPC train step;
- pooled batches: each sequence its own 8 images (the reference) against a shared pool of 64 images;
- larger batches (throughput only; ``time_to_quality.py --set ...`` checks their quality);
- evaluation: every position of the 2,496 validation sequences rendered and encoded against each
  distinct image once;
- ``torch.compile`` of the train step (with ``--compile``; minutes of compilation on a small CPU);
  bf16 autocast is measured on CUDA only (the trainer enables it only there).

Writes benchmarks/results/speed_steps_<device>.json.
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.ndimage
import torch

from _common import machine_info, rate, timed, write_results
from cpc_pipeline.data import (
    DigitRenderer,
    SequenceBatch,
    load_digit_splits,
    make_sequence_table,
    make_texture,
    table_to_sequences,
)
from cpc_pipeline.losses.binary import sequence_scores
from cpc_pipeline.models import CPCModelConfig
from cpc_pipeline.training.cpc import CPCData, CPCMethod, CPCObjective, make_cpc_method
from cpc_pipeline.training.loop import pick_device, seed_everything

STEPS_PER_TIMING = 10  # train steps per timed run: single steps of ~80 ms on a CPU time too noisily


class PerImageGenerator:
    """The public Keras code's batch recipe, per image in Python (its data_utils.SortedNumberGenerator),
    on this project's texture: the "before" of on-device rendering."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, texture: np.ndarray, seed: int = 0) -> None:
        self.images, self.labels, self.texture = images, labels, texture
        self.by_digit = [np.flatnonzero(labels == d) for d in range(10)]
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int = 32, terms: int = 4, predict_terms: int = 4) -> tuple[np.ndarray, np.ndarray]:
        sequences = np.zeros((n, terms + predict_terms), dtype=np.int64)
        labels = (np.arange(n) < n // 2).astype(np.int64)
        for b in range(n):
            start = self.rng.integers(0, 10)
            sentence = np.mod(np.arange(start, start + terms + predict_terms), 10)
            if not labels[b]:
                for i in range(terms, terms + predict_terms):
                    sentence[i] = self.rng.choice(np.delete(np.arange(10), sentence[i]))
            sequences[b] = sentence
        out = np.empty((n * (terms + predict_terms), 64, 64, 3), dtype=np.float32)
        size = self.texture.shape[0]
        for i, digit in enumerate(sequences.flatten()):
            image = self.images[self.rng.choice(self.by_digit[digit])] / 256.0
            mask = scipy.ndimage.zoom(image, 64 / 28, order=1)[:64, :64] >= 0.5
            y, x = self.rng.integers(0, size - 64, 2)
            background = (self.texture[y : y + 64, x : x + 64] + self.rng.uniform(0, 1, 3)) / 2.0
            background[mask] = 1 - background[mask]
            out[i] = background * 2 - 1
        order = self.rng.permutation(n)
        return out.reshape(n, terms + predict_terms, 64, 64, 3)[order], labels[order]


def compare(before: tuple, after: tuple, before_name: str, after_name: str, device, repeats: int) -> dict:
    """``before``/``after``: (callable, items per call). The two are timed alternately (ABAB...) so that
    drift in the machine's load hits both alike; median, min and max per side."""
    (fn_b, items_b), (fn_a, items_a) = before, after
    fn_b(), fn_a()  # warm-up
    times: dict[str, list[float]] = {"b": [], "a": []}
    for _ in range(repeats):
        for key, fn in (("b", fn_b), ("a", fn_a)):
            times[key].append(timed(fn, device, 1, warmup=0)["median_s"])

    def stats(ts: list[float], items: int) -> dict:
        ts = sorted(ts)
        return rate({"median_s": ts[len(ts) // 2], "min_s": ts[0], "max_s": ts[-1]}, items)

    b, a = stats(times["b"], items_b), stats(times["a"], items_a)
    return {
        "before": before_name,
        "after": after_name,
        "before_per_s": b["per_s_median"],
        "after_per_s": a["per_s_median"],
        "speedup": a["per_s_median"] / b["per_s_median"],
        "before_stats": b,
        "after_stats": a,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile of the train step")
    args = parser.parse_args()
    device = pick_device(args.device)
    seed_everything(0)
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    val_images = torch.as_tensor(splits.validation.images, device=device)
    val = table_to_sequences(make_sequence_table(splits.validation.labels, 2496, 4, 4, seed=1), device)
    data = CPCData(
        torch.as_tensor(splits.train.images, device=device),
        torch.as_tensor(splits.train.labels, device=device),
        val_images,
        val,
        val,
    )
    renderer = DigitRenderer(64, color=True, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    use_bf16 = device.type == "cuda"
    cmp = lambda before, after, b_name, a_name: compare(before, after, b_name, a_name, device, args.repeats)  # noqa: E731

    def make(pool: int | None, batch: int, channels_last: bool = True) -> tuple[CPCMethod, torch.optim.Optimizer]:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = CPCModelConfig().build(3, 64, predict_terms=4).to(device, memory_format=fmt)
        objective = CPCObjective(sequences_per_batch=batch, images_per_batch=pool, sequences_per_epoch=10**9)
        method = make_cpc_method(
            model,
            objective,
            data,
            renderer,
            terms=4,
            memory_format=torch.channels_last if channels_last else torch.contiguous_format,
        )
        return method, torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_rate(method: CPCMethod, opt, host_sync: bool = False, step_fn=None) -> tuple:
        batches = method.train_batches(0, gen)
        step_fn = step_fn or method.training_step
        method.model.train()

        def steps():
            for _ in range(STEPS_PER_TIMING):
                one_step()

        def one_step():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, metrics, _ = step_fn(next(batches))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if host_sync:  # what logging every step's numbers costs: one device->host copy per metric
                _ = {k: float(v.detach()) for k, v in metrics.items()}

        return steps, STEPS_PER_TIMING * method.objective.sequences_per_batch

    rows: dict[str, dict] = {}
    texture = make_texture(256, 0).permute(1, 2, 0).numpy()
    reference = PerImageGenerator(splits.train.images, splits.train.labels, texture)
    own, _ = make(None, 32)
    own_batches = own.train_batches(0, gen)
    rows["data: 32 sequences x 8 images"] = cmp(
        (reference.batch, 32),
        (lambda: next(own_batches), 32),
        "Python loop per image (reference recipe)",
        "sampled and rendered on the device (uint8 MNIST resident)",
    )

    default, opt = make(64, 64)
    plain, plain_opt = make(64, 64, channels_last=False)
    rows["channels_last"] = cmp(
        train_rate(plain, plain_opt), train_rate(default, opt), "contiguous (NCHW)", "channels_last"
    )
    if device.type == "cpu":
        threads = torch.get_num_threads()
        steps, items = train_rate(default, opt)

        def one_thread():
            torch.set_num_threads(1)
            steps()
            torch.set_num_threads(threads)

        rows["CPU threads"] = cmp((one_thread, items), (steps, items), "1 thread", f"{threads} threads (one per core)")
    rows["host sync per step"] = cmp(
        train_rate(default, opt, host_sync=True),
        train_rate(default, opt),
        "every metric read on the host each step",
        "metrics accumulated on the device",
    )
    ref_method, ref_opt = make(None, 32)
    rows["pooled batches"] = cmp(
        train_rate(ref_method, ref_opt),
        train_rate(default, opt),
        "32 sequences, each its own 8 images (reference)",
        "64 sequences from a pool of 64 images",
    )
    for size in (128, 256):
        big, big_opt = make(size, size)
        rows[f"batch {size}"] = cmp(
            train_rate(default, opt),
            train_rate(big, big_opt),
            "64 sequences, pool 64",
            f"{size} sequences, pool {size}",
        )

    reference_batches = own.batches  # OwnImageBatches: renders every position's image

    def per_position():
        size = default.objective.eval_sequences_per_batch
        for start in range(0, len(val), size):
            sl = slice(start, start + size)
            batch = reference_batches.render(
                SequenceBatch(val.digits[sl], val.image_indices[sl], val.labels[sl]), val_images, gen
            )
            _, predictions, futures = default.model(batch.images, batch.slots)
            sequence_scores(predictions, futures)

    def evaluation(fn):
        def run():
            default.model.eval()
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                fn()

        return run, len(val)

    rows["evaluation, 2,496 validation sequences"] = cmp(
        evaluation(per_position),
        evaluation(lambda: default.evaluator.score_table(val, val_images, gen)),
        "8 images rendered and encoded per sequence",
        "each distinct image once",
    )
    if args.compile:
        compiled, compiled_opt = make(64, 64)
        try:
            step = torch.compile(compiled.training_step)
            rows["torch.compile"] = cmp(
                train_rate(default, opt), train_rate(compiled, compiled_opt, step_fn=step), "eager", "compiled"
            )
        except Exception as err:  # noqa: BLE001 - recorded, not fatal
            rows["torch.compile"] = {"error": repr(err)}

    print(f"{'step':<42} {'before/s':>10} {'after/s':>10} {'speed-up':>9}  after = ")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<42} {r['error']}")
            continue
        print(f"{name:<42} {r['before_per_s']:>10.1f} {r['after_per_s']:>10.1f} {r['speedup']:>8.2f}x  {r['after']}")
    write_results(
        f"speed_steps_{device.type}",
        {
            "machine": machine_info(device),
            "config": vars(args) | {"bf16": use_bf16},
            "not_measured": [] if device.type == "cuda" else ["bf16 autocast (CUDA only; no GPU on this machine)"],
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
