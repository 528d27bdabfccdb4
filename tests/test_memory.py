import numpy as np

from secvec.memory import peak_rss


def test_peak_sees_a_transient_allocation():
    with peak_rss() as before:
        pass
    with peak_rss(interval=0.01) as peak:
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
        block.sum()
        del block
    assert peak.rss_mb > before.rss_mb + 300
