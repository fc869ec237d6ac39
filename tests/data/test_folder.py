"""Folders of your own pictures, on real photos: crops of scikit-learn's two sample images (a temple in China, a
flower), written at several sizes, in PNG and JPEG, in colour and grey."""

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_images

from cpc_pipeline.data.folder import UNLABELLED, FolderSourceConfig, read_folder
from cpc_pipeline.data.folder_splits import load_folder_splits
from cpc_pipeline.data.pictures import PictureSource, pictures_for
from cpc_pipeline.data.sources import DataSourceError
from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.training.simclr import SimCLRConfig
from tests.data.test_fashion_mnist import packaged  # noqa: F401, F811 - the fixture: Debian's dataset-fashion-mnist

PHOTOS = load_sample_images().images  # two (427, 640, 3) uint8 photos


def crops(n: int, seed: int = 0):
    """``n`` crops of both photos, of random sizes from 40 to 200 px and random aspect: (image, which photo)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        which = i % 2
        h, w = rng.integers(40, 200, 2)
        top, left = rng.integers(0, 427 - h), rng.integers(0, 640 - w)
        yield PHOTOS[which][top : top + h, left : left + w], which


def write(folder, images, grey_every=0, formats=("png", "jpg")):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        picture = Image.fromarray(image)
        if grey_every and i % grey_every == 0:
            picture = picture.convert("L")
        picture.save(folder / f"{i:03d}.{formats[i % len(formats)]}")


@pytest.fixture
def labelled(tmp_path):
    """``root/<china|flower>/<image>``: 20 crops of each photo, every fifth saved grey."""
    made = list(crops(40))
    for which, name in enumerate(("china", "flower")):
        write(tmp_path / "photos" / name, [image for image, w in made if w == which], grey_every=5)
    return tmp_path / "photos"


def test_class_folders_become_labels_and_every_picture_one_size_in_colour(labelled):
    config = FolderSourceConfig(root=str(labelled), image_size=32)
    read = read_folder(labelled, config)
    assert read.classes == ["china", "flower"] and np.bincount(read.labels).tolist() == [20, 20]
    assert read.images.shape == (40, 32, 32, 3) and read.images.dtype == np.uint8
    assert read.counts["converted_colour"] == 8  # the grey files, as colour
    assert read.counts["upscaled"] == 0  # every crop is 40 px or more a side
    # the flower photo is pinker than the temple's: the labels really follow the folders
    red_minus_green = read.images[..., 0].astype(float).mean((1, 2)) - read.images[..., 1].mean((1, 2))
    assert red_minus_green[read.labels == 1].mean() > red_minus_green[read.labels == 0].mean()


def test_a_resize_keeps_the_centre_and_grey_gives_one_channel(tmp_path):
    photo = PHOTOS[0][:200, :300]
    write(tmp_path / "one", [photo], formats=("png",))
    grey = read_folder(tmp_path / "one", FolderSourceConfig(root=str(tmp_path), image_size=100, color=False))
    assert grey.images.shape == (1, 100, 100, 1) and grey.labels.tolist() == [UNLABELLED]
    expected = np.asarray(Image.fromarray(photo).convert("L").resize((150, 100), Image.BILINEAR))[:, 25:125]
    assert np.abs(grey.images[0, ..., 0].astype(int) - expected).mean() < 3  # short side to 100, centre 100x100
    assert read_folder(tmp_path / "one", FolderSourceConfig(root=str(tmp_path), image_size=256)).counts["upscaled"] == 1


def test_one_folder_is_split_with_its_seed_every_class_in_every_split(labelled):
    config = FolderSourceConfig(root=str(labelled), image_size=16, validation_fraction=0.2, test_fraction=0.2)
    (train, validation, test), _ = load_folder_splits(config)
    assert [len(s.labels) for s in (train, validation, test)] == [24, 8, 8]
    assert all(np.bincount(s.labels).tolist() == [n // 2] * 2 for s, n in ((train, 24), (validation, 8), (test, 8)))
    assert not set(train.paths) & set(test.paths) and not set(validation.paths) & set(test.paths)
    again, _ = load_folder_splits(config)
    assert again[2].paths == test.paths  # the same seed, the same split
    other, _ = load_folder_splits(config.model_copy(update={"seed": 1}))
    assert other[2].paths != test.paths


def test_a_flat_folder_is_unlabelled_pictures(tmp_path):
    write(tmp_path / "flat", [image for image, _ in crops(10)])
    (train, validation, test), _ = load_folder_splits(FolderSourceConfig(root=str(tmp_path / "flat"), image_size=24))
    assert {int(label) for s in (train, validation, test) for label in s.labels} == {UNLABELLED}
    assert len(train.labels) + len(validation.labels) + len(test.labels) == 10 and train.classes == []


def test_stored_pictures_become_model_inputs_in_the_renderers_range(labelled):
    for color, channels in ((True, 3), (False, 1)):
        read = read_folder(labelled, FolderSourceConfig(root=str(labelled), image_size=20, color=color))
        pictures = pictures_for(read.images, None)(torch.as_tensor(read.images[:4]), None)
        assert pictures.shape == (4, channels, 20, 20) and -1 <= pictures.min() and pictures.max() <= 1


def test_simclr_reads_its_pictures_from_a_folder_and_its_encoder_is_checked_against_them(labelled):
    config = SimCLRConfig.model_validate({"dataset": "folder", "folder": {"root": str(labelled), "image_size": 32}})
    train, validation, test = config.splits({}, {}, {})
    assert train["images"].shape[1:] == (32, 32, 3) and train["classes"] == ["china", "flower"]
    assert len(train["paths"]) == len(train["labels"])
    assert config.shape(None) == (3, 32, "the folder's 32px pictures")
    with pytest.raises(ValueError, match="dataset is folder but folder is not set"):
        PictureSource(dataset="folder")


# --- bad input: a clear error naming the file and what to do, or skipped with a count, as the settings say


def test_an_unreadable_or_truncated_image_is_named_or_skipped_and_counted(labelled):
    good = (labelled / "china" / "001.jpg").read_bytes()
    (labelled / "china" / "cut.jpg").write_bytes(good[: len(good) // 2])  # truncated
    (labelled / "flower" / "fake.png").write_bytes(b"not a picture at all")
    config = FolderSourceConfig(root=str(labelled), image_size=16)
    with pytest.raises(DataSourceError, match=r"cut\.jpg is not a readable image .*set bad_files: skip"):
        read_folder(labelled, config)
    read = read_folder(labelled, config.model_copy(update={"bad_files": "skip"}))
    assert read.counts["unreadable"] == 2 and len(read.labels) == 40


def test_files_that_are_not_images_are_counted_and_never_read(labelled):
    (labelled / "china" / "notes.txt").write_text("taken in 2009")
    (labelled / "flower" / "exif.json").write_text("{}")
    read = read_folder(labelled, FolderSourceConfig(root=str(labelled), image_size=16))
    assert read.counts["not_images"] == 2 and len(read.labels) == 40


def test_an_empty_folder_or_one_that_is_missing_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    config = FolderSourceConfig(root=str(tmp_path / "empty"))
    with pytest.raises(DataSourceError, match=r"empty holds no image files .*: add pictures"):
        read_folder(tmp_path / "empty", config)
    with pytest.raises(DataSourceError, match=r"nowhere does not exist"):
        read_folder(tmp_path / "nowhere", config)


def test_a_class_folder_with_one_image_is_named_or_left_out(labelled, tmp_path):
    write(labelled / "lonely", [PHOTOS[0][:64, :64]], formats=("png",))
    config = FolderSourceConfig(root=str(labelled), image_size=16)
    with pytest.raises(DataSourceError, match=r"lonely hold fewer than 2 images: add images, remove the folder"):
        read_folder(labelled, config)
    read = read_folder(labelled, config.model_copy(update={"bad_files": "skip"}))
    assert read.counts["small_classes"] == 1 and np.bincount(read.labels).tolist() == [20, 20]


def test_images_smaller_than_the_picture_size_are_upscaled_skipped_or_refused(tmp_path):
    write(tmp_path / "mixed", [PHOTOS[1][:20, :30], PHOTOS[1][:80, :80]], formats=("png",))
    config = FolderSourceConfig(root=str(tmp_path), image_size=48)
    assert read_folder(tmp_path / "mixed", config).counts["upscaled"] == 1
    skipped = read_folder(tmp_path / "mixed", config.model_copy(update={"small_images": "skip"}))
    assert skipped.counts["too_small"] == 1 and len(skipped.labels) == 1
    with pytest.raises(DataSourceError, match=r"000\.png is 30x20 px, smaller than image_size 48"):
        read_folder(tmp_path / "mixed", config.model_copy(update={"small_images": "error"}))


def test_images_beside_class_folders_and_splits_with_other_classes_are_refused(labelled, tmp_path):
    write(labelled, [PHOTOS[0][:64, :64]], formats=("png",))
    with pytest.raises(DataSourceError, match="holds images beside its class folders"):
        read_folder(labelled, FolderSourceConfig(root=str(labelled)))
    for split, classes in (("train", ("a", "b")), ("validation", ("a", "b")), ("test", ("a", "c"))):
        for name in classes:
            write(tmp_path / split / name, [image for image, _ in crops(2)], formats=("png",))
    three = FolderSourceConfig(**{s: str(tmp_path / s) for s in ("train", "validation", "test")}, image_size=16)
    with pytest.raises(DataSourceError, match="name different classes"):
        load_folder_splits(three)
    with pytest.raises(ValueError, match="either root .* or all of train, validation and test"):
        FolderSourceConfig(root=str(tmp_path), train=str(tmp_path))


def test_simclr_and_patch_cpc_train_on_an_unlabelled_folder_their_knn_monitor_off(tmp_path):
    from cpc_pipeline.data.config import RenderingConfig
    from cpc_pipeline.training.images import ImageInputs
    from cpc_pipeline.training.patch_cpc import PatchCPCConfig, fit_patch_cpc
    from cpc_pipeline.training.simclr import fit_simclr

    write(tmp_path / "flat", [image for image, _ in crops(100)])
    folder = {"root": str(tmp_path / "flat"), "image_size": 32, "validation_fraction": 0.2}
    trainer = {"epochs": 1, "checkpoint_path": None, "progress": False}
    simclr = SimCLRConfig.model_validate(
        {
            "dataset": "folder",
            "folder": folder,
            "objective": {"images_per_batch": 16, "knn_bank_images": 40, "augment": {"flip_p": 0.5}},
            "trainer": trainer | {"warmup_epochs": 0},
        }
    )
    inputs = ImageInputs(*simclr.splits({}, {}, {})[:2], RenderingConfig())
    _, history = fit_simclr(inputs, simclr)
    assert np.isfinite(history[-1]["val_loss"]) and np.isnan(history[-1]["val_knn_accuracy"])  # no labels, no k-NN
    patch = {"size": 8, "stride": 4, "patch_encoder": {"code_size": 16, "width": 8, "hidden": 16}}
    patch_cpc = PatchCPCConfig.model_validate(
        {
            "dataset": "folder",
            "folder": folder,
            "model": {"encoder": patch, "predict_rows": 2},
            "objective": {"images_per_batch": 8, "augment": {"flip": 0.5, "colour": 0.5, "grey": 0.2}},
            "trainer": trainer,
        }
    )
    _, history = fit_patch_cpc(inputs, patch_cpc)
    assert np.isfinite(history[-1]["val_loss"]) and np.isnan(history[-1]["val_knn_accuracy"])
    too_big = patch_cpc.model_copy(
        update={"objective": patch_cpc.objective.model_copy(update={"images_per_batch": 64})}
    )
    with pytest.raises(ConfigurationError, match=r"images_per_batch \(64\) exceeds the 20 validation images"):
        fit_patch_cpc(inputs, too_big)


def test_fashion_mnist_written_as_class_folders_reads_back_pixel_for_pixel(tmp_path, packaged):  # noqa: F811
    from cpc_pipeline.data.folder import write_image_folder
    from cpc_pipeline.data.sources import load_fashion_mnist

    test = load_fashion_mnist([packaged], download=False).test
    images, labels = test.images[:300], test.labels[:300]
    classes = [f"{c}" for c in range(10)]
    root = write_image_folder(tmp_path / "fashion", images, labels, classes)
    read = read_folder(root, FolderSourceConfig(root=str(root), image_size=28, color=False))
    assert read.classes == classes and read.counts == {}
    order = np.argsort([int(p.rsplit("/", 1)[1].split(".")[0]) for p in read.paths])  # back to the IDX order
    assert np.array_equal(read.images[order, ..., 0], images) and np.array_equal(read.labels[order], labels)


def test_a_folder_as_the_run_source_names_its_settings_and_is_no_sequence_task(labelled):
    from cpc_pipeline.data.config import SourceConfig
    from cpc_pipeline.data.folder_splits import listed_train_labels
    from cpc_pipeline.data.sequences import sequence_task_unfit
    from cpc_pipeline.data.sources import DigitSplit

    with pytest.raises(ValueError, match="name is folder but folder is not set: give folder.root"):
        SourceConfig(name="folder")
    config = FolderSourceConfig(root=str(labelled), image_size=24, validation_fraction=0.2, test_fraction=0.2)
    (train, _, _), _ = load_folder_splits(config)
    np.testing.assert_array_equal(listed_train_labels(config), train.labels)  # the pre-run check's labels
    DigitSplit(train.images, train.labels)  # pictures are a split too, used as they are
    with pytest.raises(ValueError, match=r"\(N, 28, 28\) digits or \(N, S, S, C\) pictures"):
        DigitSplit(train.images[..., :2], train.labels)
    assert "a folder of pictures" in sequence_task_unfit(train.images, train.labels)
    assert "no labels" in sequence_task_unfit(np.zeros((3, 28, 28), np.uint8), np.full(3, UNLABELLED))
    assert sequence_task_unfit(np.zeros((3, 28, 28), np.uint8), np.arange(3)) is None


def test_an_encoder_that_was_not_trained_is_neither_logged_nor_registered(tmp_path, caplog):
    import logging

    import mlflow

    from cpc_pipeline.datasets import EncoderModelDataset
    from cpc_pipeline.models.not_trained import NotTrained

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("not_trained")  # this store's own, whatever another test left active
        dataset = EncoderModelDataset(flavor="mlflow.pytorch", save_args={"registered_model_name": "m"})
        with caplog.at_level(logging.INFO), mlflow.start_run():
            dataset.save(NotTrained("sequence CPC skipped: no labels"))
        assert "not logged to MLflow, nor registered (sequence CPC skipped: no labels)" in caplog.text
        assert mlflow.MlflowClient().search_registered_models() == []
    finally:
        mlflow.set_tracking_uri(before)


def test_a_batch_larger_than_the_folders_validation_split_is_refused_before_the_run(labelled):
    from cpc_pipeline.checks import check_run_configuration

    source = {"name": "folder", "folder": {"root": str(labelled), "image_size": 32}}
    parameters = {"source": source, "simclr": {"dataset": "source"}, "patch_cpc": {"dataset": "source"}}
    with pytest.raises(ConfigurationError, match=r"simclr.objective.images_per_batch \(256\) exceeds the 4 validation"):
        check_run_configuration(parameters, {"simclr"})
    parameters["simclr"]["objective"] = {"images_per_batch": 4}
    check_run_configuration(parameters, {"simclr"})  # four validation pictures hold one batch of four
    missing = {"name": "folder", "folder": {"root": str(labelled / "nowhere")}}
    check_run_configuration(parameters | {"source": missing}, {"simclr"})  # the data stage names a missing folder
