import pytest
import torch

CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine"))]


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
