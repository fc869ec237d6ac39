"""Digit sources, the reference task's sequence rule and its renderer (plain PyTorch, no Kedro)."""

from cpc_pipeline.data.config import SPLITS
from cpc_pipeline.data.renderer import DigitRenderer, make_texture
from cpc_pipeline.data.sequences import (
    DigitIndex,
    SequenceBatch,
    make_sequence_table,
    paired_negatives,
    sample_sequences,
    sequences_to_table,
    table_to_sequences,
)
from cpc_pipeline.data.sources import DataSourceError, DigitSplit, DigitSplits, load_digit_splits

__all__ = [
    "SPLITS",
    "DataSourceError",
    "DigitIndex",
    "DigitRenderer",
    "DigitSplit",
    "DigitSplits",
    "SequenceBatch",
    "load_digit_splits",
    "make_sequence_table",
    "make_texture",
    "paired_negatives",
    "sample_sequences",
    "sequences_to_table",
    "table_to_sequences",
]
