"""The SD-GASNet network: shapes, fusion, DCT basis, channel bookkeeping, gradients, errors."""
import math

import pytest
import torch

from core.model import build_model, count_gflops, count_params
from core.model.aes_fpn import CS, BR, HIGH_FREQS, LOW_FREQS, Inject, PDCTAttention, dct_filter
from core.model.blocks import BottleRep, RepVGG
from core.train.optim import build_optimizer, param_groups


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


def randomize_head(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    for lv in model.head.levels:
        for conv in (lv.cls_pred, lv.reg_dist, lv.reg_lrtb):
            conv.weight.data.copy_(torch.randn(conv.weight.shape, generator=g) * 0.01)


@pytest.fixture(scope="module")
def model_n():
    torch.manual_seed(0)
    return build_model("sdgasnet-n", num_classes=6)


@pytest.mark.parametrize("hw", [(320, 320), (640, 640), (256, 416)])
def test_output_shapes(model_n, hw):
    h, w = hw
    a = sum((h // s) * (w // s) for s in (8, 16, 32))
    x = torch.rand(2, 3, h, w)
    model_n.train()
    out = model_n(x)
    assert out["cls"].shape == (2, a, 6)
    assert out["dfl"].shape == (2, a, 4, 17)
    assert out["box"].shape == (2, a, 4)
    assert [tuple(f.shape[1:]) for f in out["feats"]] == [(32, h // 8, w // 8), (64, h // 16, w // 16), (128, h // 32, w // 32)]
    model_n.eval()
    with torch.no_grad():
        y = model_n(x)
    assert y.shape == (2, a, 4 + 6)
    assert ((y[..., 4:] >= 0) & (y[..., 4:] <= 1)).all()


def test_raw_output_in_eval_mode(model_n):
    model_n.eval()
    with torch.no_grad():
        out = model_n(torch.rand(1, 3, 320, 320), raw=True)
    assert set(out) == {"cls", "dfl", "box", "feats"}


def test_decoded_boxes_follow_anchors():
    m = build_model("sdgasnet-n", num_classes=2).eval()
    with torch.no_grad():
        y = m(torch.rand(1, 3, 64, 64))
    # lrtb bias init 1.0 and zero weights: each box spans one stride around its anchor point.
    first = y[0, 0, :4]
    assert torch.allclose(first, torch.tensor([-4.0, -4.0, 12.0, 12.0]))


def test_repvgg_fusion_exact():
    torch.manual_seed(0)
    for ci, co, s in ((8, 8, 1), (8, 16, 2), (16, 16, 1)):
        b = RepVGG(ci, co, s)
        randomize_bn(b)
        b.eval()
        x = torch.randn(2, ci, 17, 17)
        ref = b(x)
        b.fuse_()
        assert torch.allclose(b(x), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,overrides", [("sdgasnet-n", {}), ("sdgasnet-n", {"backbone": "mlvt"}),
                                            ("sdgasnet-s", {}), ("sdgasnet-t", {}),
                                            ("sdgasnet-n", {"fgpem": "none", "n5_block": "repblock"})])
def test_fused_equals_unfused(name, overrides):
    torch.manual_seed(0)
    m = build_model(name, num_classes=6, **overrides)
    randomize_bn(m)
    randomize_head(m)
    m.eval()
    x = torch.rand(1, 3, 256, 320)
    with torch.no_grad():
        ref = m(x)
        m.fuse()
        got = m(x)
    assert not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in m.modules())
    assert all(blk.fused is not None for blk in m.modules() if isinstance(blk, RepVGG))
    rel = (got - ref).abs().max() / ref.abs().max()
    assert rel < 1e-4, rel


def test_fused_model_refuses_training_output():
    m = build_model("sdgasnet-n", num_classes=2).fuse()
    with pytest.raises(RuntimeError):
        m(torch.rand(1, 3, 64, 64), raw=True)


def test_sizes_match_the_design():
    # architecture.md §9.3: SD-GASNet-n, nc=80: train form 4.91 M, deploy 4.52 M / 11.66 GFLOPs.
    m = build_model("sdgasnet-n", num_classes=80)
    assert abs(count_params(m) / 1e6 - 4.91) < 0.02
    m.fuse()
    assert abs(count_params(m) / 1e6 - 4.52) < 0.02
    assert abs(count_gflops(m, 640) - 11.66) < 0.1
    # the smaller variant, sized for YOLO26n's latency: 2.57 M fused, 6.51 GFLOPs (6 classes)
    t = build_model("sdgasnet-t", num_classes=6).fuse()
    assert abs(count_params(t) / 1e6 - 2.57) < 0.01 and abs(count_gflops(t, 640) - 6.51) < 0.05


def test_dct_basis_orthonormal():
    n = 10
    basis = torch.stack([dct_filter(u, v, n, n).flatten() for u in range(n) for v in range(n)]).double()
    gram = basis @ basis.T
    assert torch.allclose(gram, torch.eye(n * n, dtype=torch.float64), atol=1e-5)


def test_constant_map_excites_only_dc():
    att = PDCTAttention([(8, LOW_FREQS), (8, HIGH_FREQS)], base=10, tile=40)
    x = torch.full((1, 16, 40, 40), 3.0)
    spec = att.spectrum(x)[0]
    dc = [i for i, f in enumerate(att.freqs) if f == (0, 0)]
    assert dc == [0, 1]
    assert torch.allclose(spec[dc], torch.full((2,), 3.0 * 40), rtol=1e-5)  # 3 * sqrt(40*40)
    others = [i for i in range(16) if i not in dc]
    assert spec[others].abs().max() < 1e-3


def test_pdct_frequencies_scale_to_tile():
    att = PDCTAttention([(4, HIGH_FREQS)], base=10, tile=40)
    assert att.freqs == [(36, 36), (36, 32), (32, 36), (32, 32)]
    # a 20x20 input (320 px image) is pooled to the tile
    assert att(torch.rand(2, 4, 20, 20)).shape == (2, 4, 20, 20)


def test_cs_channel_bookkeeping():
    cs = CS(128, 128, 128, parts=3)
    assert cs.up.conv.out_channels == 384 and cs.hidden == 384
    assert len(cs.brs) == 3 and all(br.alpha.shape == (128,) for br in cs.brs)
    assert cs(torch.rand(2, 128, 10, 10)).shape == (2, 128, 10, 10)
    cs2 = CS(128, 128, 256, parts=3)
    assert cs2(torch.rand(1, 128, 5, 5)).shape == (1, 256, 5, 5)
    br = BR(64)
    assert torch.allclose(torch.sigmoid(br.alpha), torch.full((64,), 1 / (1 + math.exp(-1))))


def test_inject_channel_bookkeeping():
    inj = Inject(32, 64, 32)
    local = torch.rand(1, 32, 40, 40)
    assert inj(local, torch.rand(1, 64, 20, 20)).shape == (1, 32, 40, 40)   # upsample branch
    assert inj(local, torch.rand(1, 64, 80, 80)).shape == (1, 32, 40, 40)   # pooling branch


def test_every_learnable_scale_reaches_optimizer():
    m = build_model("sdgasnet-n", num_classes=6)
    m.backbone.er2.append(BottleRep(32, 32))  # a BottleRep alpha must be found too
    opt = build_optimizer(m, lr=0.01)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) in in_opt for p in m.parameters())
    groups = param_groups(m)
    scale_ids = {id(p) for p in groups["scale"]}
    alphas = [mod.alpha for mod in m.modules() if isinstance(mod, (BR, BottleRep))]
    assert len(alphas) == 4 and all(id(a) in scale_ids for a in alphas)
    assert all(g["weight_decay"] == 0 for g in opt.param_groups if g["name"] != "decay")
    total = sum(len(v) for v in groups.values())
    assert total == len(list(m.parameters()))


@pytest.mark.parametrize("backbone", ["efficientrep", "mlvt"])
def test_gradient_reaches_every_parameter(backbone):
    torch.manual_seed(0)
    m = build_model("sdgasnet-n", num_classes=3, backbone=backbone).train()
    randomize_head(m)  # zero-initialised predictors would block gradients on the first step
    out = m(torch.rand(2, 3, 128, 128))
    loss = out["cls"].sum() + out["dfl"].sum() + out["box"].sum() + sum(f.sum() for f in out["feats"])
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_ablations_remove_what_they_name():
    """``fgpem=none`` leaves no frequency attention, ``n5_block=repblock`` no CS; the rest is the same."""
    from core.model.aes_fpn import CS, PDCTAttention

    full = build_model("sdgasnet-n", num_classes=6)
    no_fgpem = build_model("sdgasnet-n", num_classes=6, fgpem="none")
    no_cs = build_model("sdgasnet-n", num_classes=6, n5_block="repblock")
    assert any(isinstance(m, PDCTAttention) for m in full.modules())
    assert not any(isinstance(m, PDCTAttention) for m in no_fgpem.modules())
    assert any(isinstance(m, CS) for m in full.modules()) and not any(isinstance(m, CS) for m in no_cs.modules())
    outside_neck = lambda m: {k for k in m.state_dict() if ".fgpem." not in k and ".cs." not in k}
    assert outside_neck(no_fgpem) == outside_neck(full) == outside_neck(no_cs)
    x = torch.rand(1, 3, 128, 96)
    for m in (no_fgpem.eval(), no_cs.eval()):
        assert [o.shape for o in m(x, raw=True)["feats"]] == [o.shape for o in full.eval()(x, raw=True)["feats"]]


def test_mlvt_backbone_interface():
    m = build_model("sdgasnet-n", num_classes=2, backbone="mlvt")
    feats = m.backbone(torch.rand(1, 3, 352, 288))  # odd /32 map: 11 x 9
    assert [f.shape[1] for f in feats] == list(m.backbone.channels)
    assert [f.shape[-2:] for f in feats] == [(88, 72), (44, 36), (22, 18), (11, 9)]


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("yolo-x", num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("sdgasnet-n", num_classes=0)
    with pytest.raises(ValueError, match="unknown backbone|backbone must be"):
        build_model("sdgasnet-n", num_classes=3, backbone="resnet")
    with pytest.raises(ValueError, match="unknown model configuration"):
        build_model("sdgasnet-n", num_classes=3, bogus=1)
    m = build_model("sdgasnet-n", num_classes=3).eval()
    with pytest.raises(ValueError, match="multiples of 32"):
        m(torch.rand(1, 3, 100, 128))
    with pytest.raises(ValueError, match="multiple of 32"):
        count_gflops(m, 100)


def test_fast_pool_rewrites_are_exact():
    import torch.nn.functional as F

    from core.model.blocks import maxpool_same, pool_to

    x = torch.randn(2, 8, 13, 20)
    assert torch.equal(maxpool_same(x, 5), F.max_pool2d(x, 5, 1, 2))
    y = torch.randn(1, 4, 40, 40)
    assert torch.allclose(pool_to(y, (10, 10)), F.adaptive_avg_pool2d(y, 10), atol=1e-6)
    z = torch.randn(1, 4, 20, 30)
    assert torch.allclose(pool_to(z, (40, 40)), F.adaptive_avg_pool2d(z, 40))


@pytest.mark.parametrize("h,w", [(20, 20), (8, 8), (10, 10), (13, 20), (40, 40), (80, 80), (24, 40)])
def test_folded_pdct_filter_equals_pooling_then_filtering(h, w):
    """The exportable PDCT (pooling folded into the DCT filter) computes what the old one did:
    adaptive average pooling to the tile, then the per-channel DCT sum."""
    import torch.nn.functional as F

    att = PDCTAttention([(8, LOW_FREQS), (8, HIGH_FREQS)], base=10, tile=40)
    x = torch.randn(3, 16, h, w)
    old = (F.adaptive_avg_pool2d(x, (40, 40)) * att.weight).sum(dim=(2, 3))
    assert torch.allclose(att.spectrum(x), old, atol=1e-5, rtol=1e-5)
    assert torch.allclose(att(x), x * att.fc(old)[:, :, None, None], atol=1e-5)
