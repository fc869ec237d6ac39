"""The folder source against the IDX path: Fashion-MNIST written out as PNG files in class folders (its train,
validation and test splits as three folders), SimCLR trained and probed through ``kedro run`` on them and on the
IDX files, each seed both ways; the two must agree within the seeds' spread.

    .venv/bin/python benchmarks/folder_source.py --seeds 0 1 2     # -> results/folder_source_fashion28.json

The pictures are the same pixels both ways (28x28 grey; ``conf/fashion28`` renders Fashion-MNIST plain), so what
differs is only the path: files decoded by the folder source, in its order, against the IDX arrays. Resumable, as
``tuning.py``, whose harness it uses.
"""

from __future__ import annotations

import argparse

from curves import ROOT
from tuning import run_settings

from cpc_pipeline.data.folder import write_image_folder
from cpc_pipeline.data.sources import FASHION_MNIST_DEBIAN, load_fashion_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fashion-root", default=FASHION_MNIST_DEBIAN)
    args = parser.parse_args()
    folders = ROOT / "data" / "studies" / "fashion_png"
    splits = load_fashion_mnist([args.fashion_root], download=False)
    classes = [str(c) for c in range(10)]
    for name in ("train", "validation", "test"):
        if not (folders / name).exists():
            split = getattr(splits, name)
            write_image_folder(folders / name, split.images, split.labels, classes)
    folder = {name: str(folders / name) for name in ("train", "validation", "test")}
    change = {"dataset": "folder", "folder": folder | {"image_size": 28, "color": False}}
    run_settings(
        "folder_source_fashion28",
        "fashion28",
        "simclr",
        args.epochs,
        args.seeds,
        [("png_folders", change)],
        "SimCLR on Fashion-MNIST 28x28 read from the IDX files (default) and from PNG class folders (png_folders), "
        f"{args.epochs} epochs, the same seeds; test accuracy of the frozen probes",
    )


if __name__ == "__main__":
    main()
