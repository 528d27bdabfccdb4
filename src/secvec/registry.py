"""Name -> implementation maps, so a new judge, attack, task or defense is one file.

Each concept folder owns one `Registry` and imports its entries in its `__init__`; an entry
module registers itself with the decorator. Unknown names fail with the list of known ones.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

from secvec.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def call_with_options(kind: str, name: str, fn: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """`fn(*args, **options)`, after checking `options` against `fn`'s signature.

    Options come from YAML; a typo there must fail at once with the options the entry accepts,
    not as a TypeError deep in a traceback.
    """
    sig = inspect.signature(fn)
    try:
        sig.bind(*args, **options)
    except TypeError as e:
        accepted = [p.name for p in list(sig.parameters.values())[len(args):]
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise ConfigError(f"{kind} {name!r}: bad options {sorted(options)} ({e}); "
                          f"accepted options: {', '.join(accepted) or 'none'}") from None
    return fn(*args, **options)
