"""Training corpus for the neural engine: sentences, TTS with exact phone timing, real speech, teacher targets,
shards and the torch reader. Built with `vasa-rig dataset build`; see build.py for the pipeline and
SOURCES.md for the licences of every source.
"""

FORMAT_NAME = "vasa-rig/dataset"
FORMAT_VERSION = 1


class DatasetError(Exception):
    """A dataset cannot be built, read or extended as asked; the message says why."""
