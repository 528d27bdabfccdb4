"""The one exception family users see.

Every error a user can cause (bad config, bad data file, unknown model, judge endpoint
down) is raised as a `SecvecError` whose message names the input and what to do. The CLI
prints it on one line and exits with code 2; anything else is a bug and keeps its traceback.
"""


class SecvecError(Exception):
    """Base class: the message is shown to the user as is, on one line."""


class ConfigError(SecvecError):
    """A config file or flag is missing, malformed or inconsistent."""


class DataError(SecvecError):
    """A data file or data source is missing, malformed or empty."""


class ModelError(SecvecError):
    """A model, tokenizer or adapter cannot be found or does not fit."""


class JudgeError(SecvecError):
    """A judge cannot run (missing package, endpoint down, nonsense answer)."""
