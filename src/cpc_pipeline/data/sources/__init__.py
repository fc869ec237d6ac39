"""Raw image sources: genuine MNIST through torchvision, Fashion-MNIST (same IDX format: Debian's
``dataset-fashion-mnist`` package, torchvision's layout, or a folder of your own), or scikit-learn's bundled
digits as fallback.

Every source returns the same thing, a :class:`DigitSplits`: uint8 images of shape ``(N, 28, 28)``
(white digit on black, as MNIST) with int64 labels, for a train, a validation and a test split, and the
name and location of the source actually used, so that a fallback is never hidden downstream.

MNIST is split as the reference CPC code splits it: the first 50,000 training images train, the last
10,000 validate, and the 10,000 MNIST test images are kept apart for the final evaluation.
"""

from cpc_pipeline.data.sources.common import SOURCES, MNIST_FILES, DataSourceError, DigitSplit, DigitSplits
from cpc_pipeline.data.sources.mnist import check_mnist_file, mnist_files_present, load_mnist
from cpc_pipeline.data.sources.fashion import FASHION_MNIST_DEBIAN, read_idx, load_fashion_mnist
from cpc_pipeline.data.sources.sklearn_digits import SKLEARN_SPLIT, upscale_sklearn_digits, load_sklearn_digits
from cpc_pipeline.data.sources.load import load_digit_splits, local_train_labels

__all__ = [
    "SOURCES",
    "MNIST_FILES",
    "DataSourceError",
    "DigitSplit",
    "DigitSplits",
    "check_mnist_file",
    "mnist_files_present",
    "load_mnist",
    "FASHION_MNIST_DEBIAN",
    "read_idx",
    "load_fashion_mnist",
    "SKLEARN_SPLIT",
    "upscale_sklearn_digits",
    "load_sklearn_digits",
    "load_digit_splits",
    "local_train_labels",
]
