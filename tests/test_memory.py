import time

import numpy as np

from secvec.memory import peak_rss


def test_peak_sees_a_transient_allocation():
    with peak_rss() as before:
        pass
    with peak_rss(interval=0.01) as peak:
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched, freed before the block ends
        block.sum()
        # Held until the sampler has looked (a loaded CI machine may not run its thread for a while);
        # without a working sampler the peak never rises and this waits out the deadline.
        deadline = time.monotonic() + 20
        while peak.rss_mb <= before.rss_mb + 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        del block
    assert peak.rss_mb > before.rss_mb + 300
