"""Call a registry entry with user options, turning a wrong option into a ConfigError.

Sources, tasks and attacks all take `**options` from YAML; a typo there must fail at once
with the list of options the entry accepts, not as a TypeError deep in a traceback.
(Shared by every registry; it would sit well in `secvec.registry`.)
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from secvec.errors import ConfigError


def call_with_options(kind: str, name: str, fn: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """`fn(*args, **options)`, after checking `options` against `fn`'s signature."""
    sig = inspect.signature(fn)
    try:
        sig.bind(*args, **options)
    except TypeError as e:
        accepted = [p.name for p in list(sig.parameters.values())[len(args):]
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        allowed = ", ".join(accepted) or "none"
        raise ConfigError(f"{kind} {name!r}: bad options {sorted(options)} ({e}); accepted options: {allowed}") from None
    return fn(*args, **options)
