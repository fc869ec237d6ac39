"""Where patch CPC's pretext is solved: by the digit or by the background. Measured on validation pictures.

    make bench-patch_cpc_diagnosis [ARGS="--rows before default"]

Reads the models ``patch_cpc_ablation.py`` saved (``data/06_models/patch_cpc_ablation/<row>_seed0.pt``) and a
random-init encoder of the same architecture, renders ``--images`` validation digits as the probes see them
(one background per picture) and marks each patch by the share of its pixels that belong to the digit:
*background* patches hold none, *digit* patches at least 10 %. Then, per model:

- **pretext accuracy by target**: the grid InfoNCE top-1 accuracy (batches of 32 pictures, as in training,
  every offset and direction) split by whether the patch to be found is a background or a digit patch;
- **nearest patch code**: for background and digit query patches, the cosine nearest patch among the other
  pictures' patches. *Background agreement*: the distance between the mean background colours of a query
  and its neighbour, as a share of that distance between random pairs (below 1: the code finds patches of
  a similar background). *Digit agreement*: how often a digit query's neighbour is a digit patch of the
  same class (chance: about 1/10 of the digit patches);
- **share of the mean-pooled feature** that comes from background patches: ``sum_bg z . f / sum_all z . f``
  with ``f`` the mean of the image's patch codes, beside the share of background patches.

Labels are read only to score agreement. Writes ``benchmarks/results/patch_cpc_diagnosis_cpu.json``.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from _common import RESULTS, default_parameters, machine_info, write_results
from patch_cpc_ablation import MODELS
from cpc_pipeline.data import DigitRenderer, load_digit_splits
from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.models.patch_cpc import PatchCPCModel
from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.patch_cpc import PatchCPCConfig
from cpc_pipeline.losses.infonce import grid_info_nce

DIGIT_SHARE = 0.1  # a patch with at least this share of digit pixels is a digit patch


def render(renderer: DigitRenderer, digits: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pictures as the renderer makes them, with each pixel's digit mask and background colour."""
    mask = renderer._resize(digits) >= 0.5
    background = renderer._backgrounds(len(digits), generator)
    return torch.where(mask, 1 - background, background) * 2 - 1, mask, background


@torch.no_grad()
def diagnose(model: PatchCPCModel, pictures, masks, backgrounds, labels, generator) -> dict:
    size, stride = model.encoder.size, model.encoder.stride
    cut = lambda x: x.unfold(2, size, stride).unfold(3, size, stride).permute(0, 2, 3, 1, 4, 5)  # noqa: E731
    share = cut(masks.float()).mean((3, 4, 5))  # (N, G, G) digit share of each patch
    colour = (cut(backgrounds) * ~cut(masks)).sum((4, 5)) / (~cut(masks)).sum((4, 5)).clamp(min=1)  # (N, G, G, 3)
    codes = torch.cat([model.encoder.grid(pictures[s : s + 256]) for s in range(0, len(pictures), 256)])
    n, d, g, _ = codes.shape
    background, digit = share == 0, share >= DIGIT_SHARE

    hits = {"background": [0, 0], "digit": [0, 0]}  # target kind -> [correct, terms]
    for s in range(0, n - 31, 32):
        predictions = model.from_codes(codes[s : s + 32])
        for direction, p in predictions.items():
            out = grid_info_nce(PatchCPCModel.frame(codes[s : s + 32], direction), p, model.first_offset)
            kind_grid = PatchCPCModel.frame(share[s : s + 32, None], direction)[:, 0]
            for k, o in zip(out.offsets, out.per_offset):
                target = kind_grid[:, k:].reshape(-1)
                for kind, pick in (("background", target == 0), ("digit", target >= DIGIT_SHARE)):
                    hits[kind][0] += int(o.correct.reshape(-1)[pick].sum())
                    hits[kind][1] += int(pick.sum())

    flat = F.normalize(codes.permute(0, 2, 3, 1).reshape(-1, d), dim=1)
    owner = torch.arange(n).repeat_interleave(g * g)
    flat_colour, flat_label = colour.reshape(-1, 3), labels[owner]
    flat_digit = digit.reshape(-1)
    generator = torch.Generator().manual_seed(0)
    neighbours = {}
    random_pairs = torch.randint(0, len(flat), (2, 4000), generator=generator)
    random_distance = float((flat_colour[random_pairs[0]] - flat_colour[random_pairs[1]]).norm(dim=1).mean())
    for kind, pick in (("background", background.reshape(-1)), ("digit", flat_digit)):
        queries = pick.nonzero()[:, 0]
        queries = queries[torch.randperm(len(queries), generator=generator)[:2000]]
        sim = flat[queries] @ flat.T
        sim[owner[queries][:, None] == owner[None, :]] = -2  # neighbours come from other pictures
        nearest = sim.argmax(1)
        distance = float((flat_colour[queries] - flat_colour[nearest]).norm(dim=1).mean())
        same_digit = (flat_digit[nearest] & (flat_label[nearest] == flat_label[queries])).float().mean()
        neighbours[kind] = {
            "background_agreement": distance / random_distance,
            "queries": len(queries),
            "same_class_digit_neighbour": float(same_digit),
            "neighbour_is_digit_patch": float(flat_digit[nearest].float().mean()),
        }

    mean = codes.mean((2, 3))  # (N, D)
    along = torch.einsum("ndgh,nd->ngh", codes, mean)  # each patch's part of |f|^2 * G^2
    feature_share = float((along * background).sum() / along.sum())
    return {
        "pretext_accuracy": {kind: c / max(t, 1) for kind, (c, t) in hits.items()},
        "pretext_terms": {kind: t for kind, (_, t) in hits.items()},
        "nearest_patch_code": neighbours,
        "background_patch_share": float(background.float().mean()),
        "digit_patch_share": float(digit.float().mean()),
        "mean_feature_share_from_background": feature_share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["before", "default"])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--mnist-root", default="../shared/data")
    args = parser.parse_args()
    params = default_parameters()
    rendering = RenderingConfig.model_validate(params["rendering"])
    splits = load_digit_splits("mnist", [args.mnist_root, "data/01_raw"], download=True, fallback=False)
    renderer = DigitRenderer.from_config(rendering)
    pictures, masks, backgrounds = render(
        renderer, torch.as_tensor(splits.validation.images[: args.images]), torch.Generator().manual_seed(2)
    )
    labels = torch.as_tensor(splits.validation.labels[: args.images])
    results = {}
    for row in args.rows:
        saved = torch.load(MODELS / f"{row}_seed0.pt", weights_only=True)
        cfg = PatchCPCConfig.model_validate(saved["config"])
        model = cfg.model.build(rendering.channels, rendering.image_size)
        model.load_state_dict(saved["state_dict"])
        results[row] = diagnose(model.eval(), pictures, masks, backgrounds, labels, None)
        torch.manual_seed(0)
        results[f"{row}: random init"] = diagnose(
            cfg.model.build(rendering.channels, rendering.image_size).eval(), pictures, masks, backgrounds, labels, None
        )
        print(row, json.dumps(results[row], indent=1), flush=True)
    write_results(
        "patch_cpc_diagnosis_cpu",
        {
            "rows": results,
            "images": args.images,
            "digit_share": DIGIT_SHARE,
            "machine": machine_info(torch.device("cpu")),
            "code_commit": code_commit(RESULTS.parents[1]),
        },
    )


if __name__ == "__main__":
    main()
