import io

import pytest
import torch
from torch import nn

from slr_train import ModelEMA


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)


class Wrapped(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module


def test_update_is_an_exponential_average_and_buffers_are_copied():
    torch.manual_seed(0)
    net = Net()
    ema = ModelEMA(Wrapped(net), decay=0.9, warmup=False)
    start = net.lin.weight.detach().clone()
    with torch.no_grad():
        net.lin.weight.add_(1.0)
        net.bn.running_mean.fill_(3.0)
    ema.update(Wrapped(net))
    torch.testing.assert_close(ema.params["lin.weight"], 0.9 * start + 0.1 * (start + 1.0))
    assert torch.equal(ema.buffers["bn.running_mean"], torch.full((2,), 3.0))
    ema.update(net)
    torch.testing.assert_close(ema.params["lin.weight"], 0.9 * (0.9 * start + 0.1 * (start + 1)) + 0.1 * (start + 1))
    assert ema.num_updates == 2


def test_warmup_decay():
    ema = ModelEMA(Net(), decay=0.9999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)
    ema.num_updates = 10**6
    assert ema.current_decay() == pytest.approx(0.9999)


def test_bf16_model_keeps_float32_shadow():
    net = Net().to(torch.bfloat16)
    ema = ModelEMA(net, decay=0.5, warmup=False)
    assert ema.params["lin.weight"].dtype == torch.float32
    ema.update(net)
    state = ema.model_state_dict(net)
    assert state["lin.weight"].dtype == torch.bfloat16


def test_applied_to_swaps_weights_and_restores_even_on_error():
    net = Net()
    ema = ModelEMA(net, decay=0.5, warmup=False)
    with torch.no_grad():
        net.lin.weight.mul_(3.0)
    raw = net.lin.weight.detach().clone()
    with ema.applied_to(net):
        torch.testing.assert_close(net.lin.weight, ema.params["lin.weight"])
    assert torch.equal(net.lin.weight, raw)
    with pytest.raises(RuntimeError, match="boom"):
        with ema.applied_to(net):
            raise RuntimeError("boom")
    assert torch.equal(net.lin.weight, raw)


def test_state_dict_round_trip_with_weights_only():
    net = Net()
    ema = ModelEMA(net, decay=0.8)
    ema.update(net)
    buffer = io.BytesIO()
    torch.save(ema.state_dict(), buffer)
    buffer.seek(0)
    other = ModelEMA(Net(), decay=0.1)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert other.decay == 0.8 and other.num_updates == 1
    for k in ema.params:
        assert torch.equal(other.params[k], ema.params[k])


def test_mismatched_state_is_rejected():
    ema = ModelEMA(Net())
    state = ema.state_dict()
    state["params"] = {"other.weight": torch.zeros(1)}
    with pytest.raises(KeyError, match="missing"):
        ema.load_state_dict(state)
