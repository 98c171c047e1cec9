"""Attention modules (notes L7059-7264): multi-head attention, ViT, SE and CBAM blocks."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.models import attention, cnn, conv_attention, vit
from trainfleet.dl.models.layers import count_parameters


def info(*shape: int, classes: int | None = 10) -> DataInfo:
    return DataInfo(tuple(shape), classes, (), "label")


def test_attention_weights_are_a_distribution_over_keys():
    torch.manual_seed(0)
    mha = attention.MultiHeadAttention(dim=16, heads=4)
    query, context = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    out, weights = mha(query, context)
    assert out.shape == (2, 5, 16) and weights.shape == (2, 4, 5, 7)
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 5), atol=1e-6)


def test_masked_keys_get_no_weight():
    q = k = v = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, False, True]]).expand(3, 3)
    _, weights = attention.scaled_dot_product(q, k, v, mask)
    assert (weights[..., 1] == 0).all() and torch.allclose(weights.sum(-1), torch.ones(1, 3))


def test_one_head_is_softmax_of_scaled_dot_products():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 4), torch.randn(6, 4), torch.randn(6, 2)
    out, weights = attention.scaled_dot_product(q, k, v)
    expected = torch.softmax(q @ k.T / 2.0, dim=-1)  # sqrt(d) = 2
    assert torch.allclose(weights, expected) and torch.allclose(out, expected @ v)


def _counted_flops(seq_len: int, dim: int) -> int:
    mha = attention.MultiHeadAttention(dim, heads=2)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        mha(torch.zeros(1, seq_len, dim))
    return counter.get_total_flops()


def test_attention_cost_grows_quadratically_with_sequence_length():
    """Counted matmul FLOPs (not wall time): the projections grow with T, the T x T scores with T^2,
    so doubling a long sequence multiplies the cost by ~4 (a linear layer's would double)."""
    dim = 16
    for t in (64, 256):
        assert _counted_flops(t, dim) == 2 * sum(attention.attention_flops(t, dim).values())  # 1 MAC = 2 FLOPs
    ratios = [_counted_flops(2 * t, dim) / _counted_flops(t, dim) for t in (256, 512)]
    assert all(3.5 < r <= 4.0 for r in ratios), ratios
    assert ratios[1] > ratios[0]  # the T^2 share keeps growing
    _, weights = attention.MultiHeadAttention(dim, heads=2)(torch.zeros(1, 300, dim))
    assert weights[0, 0].numel() == 300 * 300


def test_vit_patches_are_non_overlapping_and_row_major():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    p = vit.patches(x, 4)
    assert p.shape == (2, 4, 3 * 4 * 4)
    assert torch.equal(p[1, 1].reshape(3, 4, 4), x[1, :, 0:4, 4:8])  # second patch = top-right
    assert torch.equal(p[0, 2].reshape(3, 4, 4), x[0, :, 4:8, 0:4])


@pytest.mark.parametrize(("shape", "patch", "count"), [((1, 8, 8), 2, 16), ((3, 32, 32), 8, 16), ((3, 32, 32), 4, 64)])
def test_vit_outputs_class_scores_and_counts_patches(shape, patch, count):
    hp = vit.ViTHparams(patch=patch, dim=32, depth=2, heads=4, mlp_dim=64)
    model = vit.ViT(hp, info(*shape), 7)
    assert model.num_patches == count
    assert model(torch.rand(5, *shape)).shape == (5, 7)
    tokens, maps = model.tokens(torch.rand(5, *shape))
    assert tokens.shape == (5, count + 1, 32) and len(maps) == 2 and maps[0].shape == (5, 4, count + 1, count + 1)


def test_vit_blocks_have_their_own_weights():
    model = vit.ViT(vit.ViTHparams(depth=3), info(1, 8, 8), 10)
    first, second = model.blocks[0].attn.q.weight, model.blocks[1].attn.q.weight
    assert first.data_ptr() != second.data_ptr() and not torch.equal(first, second)


def test_vit_rejects_heads_that_do_not_divide_dim_and_patches_that_do_not_divide_the_image():
    with pytest.raises(ValueError, match="divide"):
        vit.ViTHparams(dim=30, heads=4)
    with pytest.raises(ValueError, match="divide"):
        vit.ViT(vit.ViTHparams(patch=3), info(1, 8, 8), 10)


def test_se_weights_lie_strictly_between_zero_and_one_per_channel():
    torch.manual_seed(0)
    se = conv_attention.SqueezeExcite(16)
    x = torch.randn(4, 16, 6, 6) * 10
    out = se(x)
    assert se.last_mask.shape == (4, 16, 1, 1)
    assert (se.last_mask > 0).all() and (se.last_mask < 1).all()
    assert torch.allclose(out, x * se.last_mask)


def test_cbam_masks_are_per_channel_then_per_position():
    torch.manual_seed(0)
    block = conv_attention.CBAM(16)
    out = block(torch.randn(4, 16, 6, 5))
    channel, spatial = block.last_mask
    assert channel.shape[1:] == (16, 1, 1) and spatial.shape[1:] == (1, 6, 5)
    assert out.shape == (4, 16, 6, 5)
    for mask in (channel, spatial):
        assert (mask > 0).all() and (mask < 1).all()


@pytest.mark.parametrize(("kind", "block"), [("se", conv_attention.SqueezeExcite), ("cbam", conv_attention.CBAM),
                                             ("none", None)])
def test_a_cnn_switches_attention_on_after_each_conv_block(kind, block):
    hp = cnn.CNNHparams(channels=[8, 16], padding="same", attention=kind)
    model = cnn.CNN(hp, info(1, 8, 8), 10)
    found = [m for m in model.modules() if isinstance(m, (conv_attention.SqueezeExcite, conv_attention.CBAM))]
    assert len(found) == (0 if block is None else 2) and all(isinstance(m, block) for m in found)
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)


class NotesViT(torch.nn.Module):
    """The notes' Keras ViT (L7190-7226) transcribed literally, kept only to show its flaws."""

    def __init__(self, num_patches: int, projection_dim: int, num_heads: int, transformer_units: list[int],
                 num_classes: int) -> None:
        super().__init__()
        self.class_token = torch.nn.Parameter(torch.randn(1, 1, projection_dim) * 0.05)
        self.position_embedding = torch.nn.Parameter(torch.randn(1, num_patches + 1, projection_dim) * 0.05)
        self.multi_head_attention = attention.MultiHeadAttention(projection_dim, num_heads)
        dims = [projection_dim, *transformer_units]
        self.dense_proj = torch.nn.Sequential(*(m for a, b in zip(dims, dims[1:]) for m in (torch.nn.Linear(a, b),
                                                                                             torch.nn.ReLU())))
        self.layer_norm = torch.nn.LayerNorm(projection_dim, eps=1e-6)
        self.classifier = torch.nn.Linear(projection_dim, num_classes)
        self.depth = 2

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([self.class_token.expand(len(patches), -1, -1), patches], 1) + self.position_embedding
        for _ in range(self.depth):  # "Two transformer layers": the same layers, twice
            tokens = self.layer_norm(tokens + self.multi_head_attention(tokens)[0])
            tokens = self.layer_norm(tokens + self.dense_proj(tokens))
        return self.classifier(tokens[:, 0])


def _keras_sparse_ce_on_probabilities(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras' sparse_categorical_crossentropy with from_logits=False: outputs are taken as
    probabilities, normalised by their sum and clipped to [eps, 1 - eps]."""
    p = (outputs / outputs.sum(-1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
    return -torch.log(p[torch.arange(len(y)), y])


def test_the_notes_vit_shares_one_layer_across_depth_takes_no_images_and_scores_logits_as_probabilities():
    torch.manual_seed(0)
    notes = NotesViT(num_patches=16, projection_dim=64, num_heads=4, transformer_units=[128, 64], num_classes=10)
    one_layer = count_parameters(notes)
    notes.depth = 12
    assert count_parameters(notes) == one_layer  # depth adds no parameters: every "layer" is the same one
    ours = [count_parameters(vit.ViT(vit.ViTHparams(depth=d), info(1, 8, 8), 10)) for d in (1, 2)]
    assert ours[1] > ours[0]
    with pytest.raises(RuntimeError):
        notes(torch.rand(2, 1, 8, 8))  # an image is not a sequence of projected patches: nothing cuts it up
    # Logits read as probabilities: two outputs that favour different classes get the same (zero) loss
    # for both classes, so the loss cannot tell the right class from the wrong one; softmax CE can.
    logits = torch.tensor([[1.0, 2.0, -2.5]])
    keras = [float(_keras_sparse_ce_on_probabilities(logits, torch.tensor([c]))) for c in (0, 1)]
    proper = [float(torch.nn.functional.cross_entropy(logits, torch.tensor([c]))) for c in (0, 1)]
    assert keras[0] == keras[1] < 1e-6
    assert proper[1] < proper[0]
