"""kedro run --pipelines embed: a frozen encoder's features for a folder of new pictures, one row per file."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from cpc_pipeline.data.cifar import cifar_pictures
from cpc_pipeline.data.folder import FolderSourceConfig, read_folder
from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.evaluation import extract_features, freeze
from cpc_pipeline.evaluation.embed import EmbedConfig, embed_folder, load_encoder
from cpc_pipeline.models import EncoderSpec, ReferenceEncoderSpec
from tests.data.test_folder import crops, write


@pytest.fixture
def pictures(tmp_path):
    made = list(crops(12))
    for which, name in enumerate(("china", "flower")):
        write(tmp_path / "new" / name, [image for image, w in made if w == which])
    return tmp_path / "new"


def test_each_picture_gets_its_path_its_class_and_the_frozen_encoders_features(pictures):
    torch.manual_seed(0)
    spec = EncoderSpec(ReferenceEncoderSpec(code_size=32, width=16, hidden=32))
    weights = spec.build(3, 32).state_dict()
    config = EmbedConfig(folder={"root": str(pictures)}, images_per_batch=5, device="cpu")
    table = embed_folder(load_encoder(spec, weights, config.pictures(32, True)), config.pictures(32, True), config)
    assert list(table.columns) == ["path", "label", "embedding"] and len(table) == 12
    assert table.label.tolist() == ["china"] * 6 + ["flower"] * 6 and table.path.is_unique
    encoder = spec.build(3, 32)
    encoder.load_state_dict(weights)
    images = read_folder(pictures, FolderSourceConfig(root=str(pictures), image_size=32)).images
    expected = extract_features(freeze(encoder), images, cifar_pictures, 0, 512)  # the probes' own extraction
    np.testing.assert_allclose(np.stack(table.embedding), expected, rtol=1e-5, atol=1e-6)


def test_weights_for_other_pictures_are_one_line_saying_what_to_set(pictures):
    spec = EncoderSpec(ReferenceEncoderSpec(code_size=32, width=16, hidden=32))
    weights = spec.build(3, 64).state_dict()  # trained on 64 px pictures
    config = EmbedConfig(folder={"root": str(pictures)}, image_size=32)
    with pytest.raises(ConfigurationError, match="do not fit 3-channel 32px pictures .* set embed.image_size"):
        load_encoder(spec, weights, config.pictures(64, True))  # embed.image_size wins over rendering's
    with pytest.raises(ValueError, match="as embed.image_size and embed.color, not in folder"):
        EmbedConfig(folder={"root": str(pictures), "image_size": 32})
    with pytest.raises(ValueError, match="folder.root must name the folder"):
        EmbedConfig(folder={"train": "a", "validation": "b", "test": "c"})


def test_kedro_run_embed_writes_the_parquet_with_the_encoder_the_user_names(kedro_project, pictures):
    from tests.test_failures import kedro_cli

    spec = EncoderSpec(ReferenceEncoderSpec(padding=1))  # conf/smoke's encoder: 28 px grey pictures
    torch.save(spec.build(1, 28).state_dict(), kedro_project / "data" / "06_models" / "simclr_encoder.pt")
    params = f"embed.folder.root={pictures},embed.images_per_batch=4"
    done = kedro_cli(
        kedro_project, "--env", "smoke", "--pipelines", "embed", "--namespaces", "embed.simclr", "--params", params
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]  # the command a user types, its own process
    table = pd.read_parquet(kedro_project / "data" / "07_model_output" / "simclr_embeddings.parquet")
    assert len(table) == 12 and set(table.label) == {"china", "flower"} and len(table.embedding[0]) == 128
    assert not (kedro_project / "data" / "07_model_output" / "patch_cpc_embeddings.parquet").exists()

    # the registered model takes the pictures as decoded (uint8, any size, colour) and gives the same embeddings
    import mlflow
    from PIL import Image

    mlflow.set_tracking_uri(f"sqlite:///{kedro_project / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/cpc_pipeline.simclr_embedder/latest")
    first = Image.open(table.path[0])
    decoded = np.asarray(first.convert("RGB"))[None]  # one colour photo crop at its own size
    np.testing.assert_allclose(model.predict(decoded)[0], table.embedding[0], rtol=1e-4, atol=1e-5)
    assert model.predict(np.repeat(decoded, 3, 0)).shape == (3, 128)

    # and `mlflow models predict` on a batch of pictures as JSON, the serving tool's own input format
    import json
    import subprocess
    import sys
    from pathlib import Path

    batch = np.stack([np.asarray(Image.open(p).convert("RGB").resize((40, 40))) for p in table.path[:3]])
    (kedro_project / "batch.json").write_text(json.dumps({"inputs": batch.tolist()}))
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    served = subprocess.run(
        [mlflow_cli, "models", "predict", "-m", "models:/cpc_pipeline.simclr_embedder/latest", "-t", "json"]
        + ["-i", "batch.json", "-o", "out.json", "--env-manager", "local"],
        cwd=kedro_project,
        capture_output=True,
        text=True,
        env=os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{kedro_project / 'mlflow.db'}"},
    )
    assert served.returncode == 0, served.stderr[-3000:]
    predictions = np.asarray(json.loads((kedro_project / "out.json").read_text())["predictions"])
    np.testing.assert_allclose(predictions, model.predict(batch), rtol=1e-4, atol=1e-5)
