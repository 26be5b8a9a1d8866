import os

import pytest
import torch

CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine"))]


@pytest.fixture(autouse=True)
def _threads():
    # 2 by default; mutation testing runs two mutants at once on 2 cores and sets 1, since
    # spinning OpenMP threads would burn the CPU time its timeouts count (.ci/mutation.py)
    torch.set_num_threads(int(os.environ.get("GENTOOLKIT_TEST_THREADS", "2")))
