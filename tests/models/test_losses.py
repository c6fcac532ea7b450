"""Losses against naive re-computations written here (loops, explicit softmax and KL)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from motion_retrieval.losses import (
    CCCLLoss,
    InfoNCELoss,
    cccl_lambda,
    false_negative_mask,
    gaussian_kl,
    kl_loss,
    latent_consistency_loss,
    reconstruction_loss,
)


def _softmax(row: list[float]) -> list[float]:
    peak = max(row)
    exps = [math.exp(v - peak) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def _d(a: torch.Tensor, b: torch.Tensor) -> float:
    """(1/B) sum_i KL(softmax(a_i) || softmax(b_i)), by hand."""
    total = 0.0
    for i in range(a.shape[0]):
        p = _softmax(a[i].tolist())
        q = _softmax(b[i].tolist())
        total += sum(pj * math.log(pj / qj) for pj, qj in zip(p, q))
    return total / a.shape[0]


def _ce_diag(s: torch.Tensor) -> float:
    return sum(-math.log(_softmax(s[i].tolist())[i]) for i in range(s.shape[0])) / s.shape[0]


def _naive_cccl(m, t, e, scales, lam):
    def unit(x):
        return [[v / math.sqrt(sum(w * w for w in row)) for v in row] for row in x.tolist()]

    mn, tn, en = (torch.tensor(unit(x), dtype=torch.float64) for x in (m, t, e))
    n = m.shape[0]

    def sim(a, b, s):
        return torch.tensor([[s * sum(x * y for x, y in zip(a[i], b[j])) for j in range(n)] for i in range(n)],
                            dtype=torch.float64)

    s_mt = sim(mn, tn, scales[0])
    s_tm = sim(tn, mn, scales[0])
    s_mm = sim(mn, mn, scales[1])
    s_tt = sim(tn, tn, scales[2])
    s_e = sim(en, en, scales[3])
    nce = 0.5 * (_ce_diag(s_mt) + _ce_diag(s_tm))
    uni_m = 0.25 * (_d(s_mm, s_mt) + _d(s_mm, s_tm) + _d(s_mt, s_mm) + _d(s_tm, s_mm))
    uni_t = 0.25 * (_d(s_tt, s_mt) + _d(s_tt, s_tm) + _d(s_mt, s_tt) + _d(s_tm, s_tt))
    teach = _d(s_e, s_tt) + _d(s_e, s_mm)
    return {"nce": nce, "uni_m": uni_m, "uni_t": uni_t, "teach": teach,
            "loss": nce + lam * (uni_m + uni_t) + (1 - lam) * teach}


@pytest.mark.parametrize("epoch", [0, 55, 100, 249])
def test_cccl_matches_naive_recomputation(epoch):
    torch.manual_seed(0)
    m, t, e = torch.randn(6, 16), torch.randn(6, 16), F.normalize(torch.randn(6, 10), dim=-1)
    loss = CCCLLoss(temperature=0.1, start_epoch=40, end_epoch=100)
    with torch.no_grad():
        loss.log_scales.copy_(torch.log(torch.tensor([10.0, 7.0, 12.0, 5.0])))
    out = loss(m.double(), t.double(), e.double(), epoch)
    expected = _naive_cccl(m, t, e, [10.0, 7.0, 12.0, 5.0], cccl_lambda(epoch, 40, 100))
    for name in ("nce", "uni_m", "uni_t", "teach", "loss"):
        # rel 1e-6: the scales are float32 parameters
        assert float(out[name].detach()) == pytest.approx(expected[name], rel=1e-6), name
    assert float(out["lambda"]) == cccl_lambda(epoch, 40, 100)


def test_cccl_scales_start_at_ten_and_all_receive_gradients():
    """Nothing is detached: the teacher's scale s4 and the target matrices get gradients too (PAPER.md 5)."""
    torch.manual_seed(0)
    loss = CCCLLoss(temperature=0.1, start_epoch=40, end_epoch=100)
    assert torch.allclose(loss.log_scales.exp(), torch.full((4,), 10.0))
    m, t = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)
    e = F.normalize(torch.randn(5, 8), dim=-1)
    loss(m, t, e, epoch=70)["loss"].backward()
    assert (loss.log_scales.grad.abs() > 0).all()
    assert m.grad.abs().sum() > 0 and t.grad.abs().sum() > 0


def test_cccl_needs_the_teacher_until_lambda_is_one():
    m, t = torch.randn(4, 8), torch.randn(4, 8)
    loss = CCCLLoss(start_epoch=2, end_epoch=4)
    with pytest.raises(ValueError, match="teacher"):
        loss(m, t, None, epoch=3)
    out = loss(m, t, None, epoch=4)
    assert "teach" not in out and float(out["lambda"]) == 1.0


def test_cccl_teacher_floor_keeps_the_teacher_after_the_hand_off():
    torch.manual_seed(0)
    m, t, e = torch.randn(6, 16).double(), torch.randn(6, 16).double(), F.normalize(torch.randn(6, 10), dim=-1).double()
    paper = CCCLLoss(start_epoch=2, end_epoch=4)
    floored = CCCLLoss(start_epoch=2, end_epoch=4, teacher_floor=0.25)
    late_paper, late = paper(m, t, e, epoch=10), floored(m, t, e, epoch=10)  # lambda = 1
    assert float(late["loss"] - late_paper["loss"]) == pytest.approx(0.25 * float(late["teach"]))
    early = floored(m, t, e, epoch=0)  # lambda = 0: the floor changes nothing
    assert float(early["loss"]) == pytest.approx(float(paper(m, t, e, epoch=0)["loss"]))
    with pytest.raises(ValueError, match="teacher"):
        floored(m, t, None, epoch=10)


def test_cccl_leaves_side_twins_out_of_the_teacher_term_only():
    torch.manual_seed(1)
    m, t, e = torch.randn(6, 16).double(), torch.randn(6, 16).double(), F.normalize(torch.randn(6, 10), dim=-1).double()
    twins = torch.zeros(6, 6, dtype=torch.bool)
    twins[0, 3] = twins[3, 0] = True
    masked, kept = CCCLLoss(start_epoch=2, end_epoch=4, mask_twins=True), CCCLLoss(start_epoch=2, end_epoch=4)
    a = masked(m, t, e, 0, side_twins=twins)
    assert torch.isfinite(a["loss"]) and float(a["teach"]) > 0
    assert float(a["nce"]) == float(kept(m, t, e, 0, side_twins=twins)["nce"])  # the contrastive term is untouched
    unmasked = kept(m, t, e, 0, side_twins=twins)
    assert float(unmasked["teach"]) == pytest.approx(float(masked(m, t, e, 0)["teach"]))  # no twins: full term
    assert float(unmasked["teach"]) != pytest.approx(float(a["teach"]))
    # masked, the term is a by-hand KL over every row's other columns: the twin's similarity never counts
    scale = math.exp(math.log(10.0))
    expected = 0.0
    for sim_other in (t, m):
        n = F.normalize(sim_other, dim=-1)
        other = scale * n @ n.T
        target = scale * e @ e.T
        rows = 0.0
        for i in range(6):
            keep = [j for j in range(6) if not twins[i, j]]
            rows += float(F.kl_div(F.log_softmax(other[i, keep], 0), F.log_softmax(target[i, keep], 0),
                                   log_target=True, reduction="sum"))
        expected += rows / 6
    assert float(a["teach"]) == pytest.approx(expected, rel=1e-6)


def test_side_twins_mark_mirror_pairs_whose_captions_differ():
    from motion_retrieval.losses.cccl import side_twins

    keys = ["000001", "M000001", "000002", "M000002", "000003"]
    captions = ["waves the left hand", "waves the right hand", "jumps", "jumps", "M000001"]
    twins = side_twins(keys, captions)
    assert twins.tolist() == [[False, True, False, False, False], [True, False, False, False, False],
                              [False] * 5, [False] * 5, [False] * 5]


def test_cccl_lambda_schedule():
    assert [cccl_lambda(e, 40, 100) for e in (0, 39, 40, 41, 70, 99, 100, 101, 249)] == pytest.approx(
        [0.0, 0.0, 0.0, 1 / 60, 0.5, 59 / 60, 1.0, 1.0, 1.0])
    assert cccl_lambda(0, 0, 1) == 0.0 and cccl_lambda(1, 0, 1) == 1.0
    # A degenerate schedule switches at once.
    assert cccl_lambda(4, 5, 5) == 0.0 and cccl_lambda(5, 5, 5) == 1.0


def test_infonce_matches_naive_and_filtering_never_masks_the_diagonal():
    torch.manual_seed(0)
    m, t = torch.randn(5, 8), torch.randn(5, 8)
    plain = InfoNCELoss(temperature=0.1)
    logits = 10.0 * F.normalize(m, dim=-1) @ F.normalize(t, dim=-1).T
    assert float(plain(m, t)["loss"]) == pytest.approx(0.5 * (_ce_diag(logits) + _ce_diag(logits.T)), rel=1e-5)

    # Identical teacher embeddings: every pair is a "false negative", only the diagonal survives.
    teacher = F.normalize(torch.ones(5, 8), dim=-1)
    mask = false_negative_mask(teacher, 0.8)
    assert not mask.diagonal().any() and mask.sum() == 5 * 4
    out = InfoNCELoss(temperature=0.1, filter_threshold=0.8)(m, t, teacher)
    assert float(out["loss"]) == pytest.approx(0.0, abs=1e-6) and torch.isfinite(out["loss"])
    assert float(out["filtered"]) == pytest.approx(20 / 25)


def test_false_negative_threshold_is_two_thr_minus_one():
    teacher = F.normalize(torch.tensor([[1.0, 0.0], [0.65, math.sqrt(1 - 0.65**2)], [0.55, math.sqrt(1 - 0.55**2)]]),
                          dim=-1)
    mask = false_negative_mask(teacher, 0.8)  # cut-off cosine 0.6
    assert mask[0, 1] and mask[1, 0] and not mask[0, 2] and not mask[2, 0]


def test_filtered_infonce_requires_teacher():
    with pytest.raises(ValueError, match="teacher"):
        InfoNCELoss(filter_threshold=0.8)(torch.randn(3, 4), torch.randn(3, 4))


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu1, lv1, mu2, lv2 = torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6)
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(normal(mu1, (0.5 * lv1).exp()), normal(mu2, (0.5 * lv2).exp())).mean()
    torch.testing.assert_close(gaussian_kl(mu1, lv1, mu2, lv2), expected)
    prior = torch.distributions.kl_divergence(normal(mu1, (0.5 * lv1).exp()), normal(0.0, 1.0)).mean()
    torch.testing.assert_close(gaussian_kl(mu1, lv1), prior)
    total = kl_loss(mu1, lv1, mu2, lv2)
    torch.testing.assert_close(
        total, gaussian_kl(mu1, lv1, mu2, lv2) + gaussian_kl(mu2, lv2, mu1, lv1) + gaussian_kl(mu1, lv1)
        + gaussian_kl(mu2, lv2))
    assert float(gaussian_kl(mu1, lv1, mu1, lv1)) == pytest.approx(0.0, abs=1e-6)


def test_reconstruction_counts_real_frames_only():
    target = torch.zeros(2, 4, 3)
    prediction = torch.zeros(2, 4, 3)
    prediction[0, 3] = 100.0  # a padded frame: ignored
    prediction[1, 0] = 0.5  # a real frame: smooth-l1 0.5 * 0.5^2 = 0.125 on 3 values
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    expected = 3 * 0.125 / (5 * 3)
    assert float(reconstruction_loss(prediction, target, mask)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no real frame"):
        reconstruction_loss(prediction, target, torch.zeros_like(mask))


def test_latent_consistency_is_smooth_l1():
    a, b = torch.zeros(2, 3), torch.full((2, 3), 2.0)
    assert float(latent_consistency_loss(a, b)) == pytest.approx(1.5)
