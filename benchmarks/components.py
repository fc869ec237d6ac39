"""Component throughput: renderer, CPC train step (pooled and reference batches), InfoNCE, feature
extraction, and the achieved FLOP/s against a measured matmul peak.

    .venv/bin/python benchmarks/components.py [--device auto] [--repeats 5] [--mnist-root ../shared/data]

Prints a table and writes benchmarks/results/components_<device>.json (machine, torch, config, figures).
Each figure: warm-up, then ``repeats`` timed runs; median, min and max are reported.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import machine_info, matmul_peak, print_table, rate, timed, write_results
from cpc_pipeline.data import DigitRenderer, load_digit_splits, make_sequence_table, table_to_sequences
from cpc_pipeline.evaluation import extract_features, freeze
from cpc_pipeline.losses import info_nce
from cpc_pipeline.models import CPCModelConfig
from cpc_pipeline.training.cpc import CPCData, CPCObjective, make_cpc_method
from cpc_pipeline.training.loop import pick_device, seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mnist-root", default="../shared/data")
    args = parser.parse_args()
    device = pick_device(args.device)
    seed_everything(0)
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    train_images = torch.as_tensor(splits.train.images, device=device)  # resident uint8
    train_labels = torch.as_tensor(splits.train.labels, device=device)
    renderer = DigitRenderer(64, color=True, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    rows = {}

    batch = train_images[:512]
    rows["renderer 64x64 colour (images)"] = rate(timed(lambda: renderer(batch, gen), device, args.repeats), 512)

    model = CPCModelConfig().build(3, 64, predict_terms=4).to(device, memory_format=torch.channels_last)
    val = table_to_sequences(make_sequence_table(splits.validation.labels, 256, 4, 4, seed=1), device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    use_bf16 = device.type == "cuda"
    flops = {}
    for name, pool, batch_size in (("pooled P=64, 64 seq", 64, 64), ("reference, 32 seq x 8 images", None, 32)):
        objective = CPCObjective(sequences_per_batch=batch_size, images_per_batch=pool, sequences_per_epoch=10**9)
        data = CPCData(train_images, train_labels, torch.as_tensor(splits.validation.images, device=device), val, val)
        method = make_cpc_method(model, objective, data, renderer, terms=4, memory_format=torch.channels_last)
        batches = method.train_batches(0, gen)

        def step():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, _, _ = method.training_step(next(batches))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        model.train()
        with FlopCounterMode(display=False) as counter:
            step()
        flops[name] = counter.get_total_flops()
        stats = timed(step, device, args.repeats)
        rows[f"CPC train step, {name} (sequences)"] = rate(stats, batch_size) | {
            "model_flops_per_step": flops[name],
            "achieved_flop_s": flops[name] / stats["median_s"],
        }

    preds = torch.randn(64, 4, 128, device=device)
    pool = torch.randn(64, 128, device=device)
    target = torch.randint(0, 64, (64, 4), device=device)
    digits = torch.arange(64, device=device) % 10
    rows["InfoNCE loss, 64 seq x 4 steps x 64 candidates (calls)"] = rate(
        timed(lambda: info_nce(preds, pool, target, digits, "different_digit"), device, args.repeats), 1
    )

    encoder = freeze(model.encoder)
    images = splits.test.images[:4096]
    rows["feature extraction, frozen encoder (images)"] = rate(
        timed(
            lambda: extract_features(encoder, images, renderer, seed=0, batch_size=512, device=device),
            device,
            max(1, args.repeats // 2),
            warmup=1,
        ),
        len(images),
    )

    peak_fp32 = matmul_peak(device, torch.float32, args.repeats)
    peak = {"matmul_fp32_flop_s": peak_fp32}
    if device.type == "cuda":
        peak["matmul_bf16_flop_s"] = matmul_peak(device, torch.bfloat16, args.repeats)
    for row in rows.values():
        if "achieved_flop_s" in row:
            row["fraction_of_matmul_peak"] = row["achieved_flop_s"] / max(peak.values())

    print_table(rows)
    print(", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peak.items()))
    write_results(
        f"components_{device.type}",
        {
            "machine": machine_info(device),
            "config": vars(args) | {"bf16": use_bf16, "channels_last": True},
            "matmul_peak": peak,
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
