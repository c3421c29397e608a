"""Errors a user can act on. The CLI prints them in one line, without a traceback."""


class QdemoError(Exception):
    """A problem with the user's input or environment, explained in the message.

    The message names the file (or option) and the problem, e.g.
    ``"data/ratings.csv: missing column 'valence' (found: path, v, a)"``.
    """


class ConfigError(QdemoError):
    """A configuration file or override is invalid (unknown key, wrong type)."""


class DataError(QdemoError):
    """A dataset, CSV or image cannot be used as given."""


class CheckpointError(QdemoError):
    """A checkpoint or weights file is missing, corrupt or from something else."""
