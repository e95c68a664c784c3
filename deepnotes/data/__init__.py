"""Offline data: a real text corpus that exists on every Python install (chapters 7 and 8).

See :mod:`deepnotes.data.corpus`.
"""

from deepnotes.data.corpus import Corpus, byte_batches, stdlib_corpus, stdlib_files

__all__ = ["Corpus", "byte_batches", "stdlib_corpus", "stdlib_files"]
