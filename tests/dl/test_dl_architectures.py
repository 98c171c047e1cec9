"""The notes' Keras examples rebuilt in PyTorch with the same parameter counts (inventory §5, §13)."""

from __future__ import annotations

import pytest
import torch

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.models import autoencoder, cnn, gan, mlp, perceptron, rnn
from trainfleet.dl.models.layers import count_parameters
from trainfleet.dl.tasks.losses import classification_loss


def info(*shape: int, classes: int | None = 10) -> DataInfo:
    return DataInfo(tuple(shape), classes, (), "label")


def test_keras_simple_cnn_has_3938570_parameters():
    model = cnn.CNN(cnn.CNNHparams(), info(3, 64, 64), 10)  # defaults = notes L5211-5239
    assert count_parameters(model) == 896 + 3_936_384 + 1_290 == 3_938_570
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 10)


def test_cnn_blocks_take_average_pooling_activation_and_dropout():
    hp = cnn.CNNHparams(channels=[1], kernel_size=1, pool_type="avg", activation="tanh", conv_dropout=0.25)
    block = cnn.conv_block(1, 1, hp).eval()  # eval: dropout passes values through
    with torch.no_grad():
        block[0].weight.fill_(1.0)
        block[0].bias.zero_()
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(block(x), torch.nn.functional.avg_pool2d(torch.tanh(x), 2))
    assert [type(m).__name__ for m in block] == ["Conv2d", "Tanh", "AvgPool2d", "Dropout"]
    model = cnn.CNN(hp.model_copy(update={"kernel_size": 3}), info(1, 8, 8), 10)
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.MaxPool2d)) for m in model.modules())


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_simple_rnn_steps_with_the_chosen_activation(act):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), the last h_t into the dense head."""
    model = rnn.SimpleRNN(rnn.SimpleRNNHparams(hidden=4, activation=act), info(3, 2), 5)
    x = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0))
    r, f = model.rnn, torch.tanh if act == "tanh" else torch.relu
    h = torch.zeros(2, 4)
    for t in range(3):
        h = f(x[:, t] @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0)
    torch.testing.assert_close(model(x), model.head(h))


@pytest.mark.parametrize(("out", "expected"), [(1, 16_641), (10, 17_226)])
def test_keras_fc_examples(out, expected):
    model = mlp.MLP(mlp.MLPHparams(hidden=[128, 64]), info(64), out)  # notes L5325-5396
    assert count_parameters(model) == expected


def test_keras_gan_generator_and_discriminator():
    model = gan.GAN(gan.GANHparams(), info(1, 28, 28), 0)  # notes L6874-6921
    assert count_parameters(model.generator) == 1_486_352
    assert count_parameters(model.discriminator) == 533_505
    assert model(torch.zeros(3, 100)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize(
    ("cls", "features", "expected"),
    [
        # Keras counts one bias per gate; torch has two (b_ih, b_hh): add hidden * gates.
        (rnn.SimpleRNN, 8, 50 * (8 + 50 + 1) + 50 * 1 + 51),
        (rnn.LSTM, 8, 4 * 50 * (8 + 51) + 4 * 50 + 51),
        (rnn.GRU, 8, 3 * 50 * (8 + 52) + 51),  # Keras reset_after=True already has two biases
    ],
)
def test_recurrent_parameter_counts_match_keras_plus_torch_bias(cls, features, expected):
    model = cls(cls.Hparams(), info(10, features), 1)
    assert count_parameters(model) == expected


def test_deep_rnn_stacks_layers_and_reads_images_row_by_row():
    model = rnn.DeepRNN(rnn.DeepRNNHparams(), info(1, 8, 8), 10)
    assert model.rnn.num_layers == 2 and model(torch.zeros(4, 1, 8, 8)).shape == (4, 10)


@pytest.mark.parametrize("cls", [autoencoder.Autoencoder, autoencoder.DenoisingAutoencoder, autoencoder.ConvAutoencoder])
def test_autoencoders_reconstruct_the_input_shape_in_unit_range(cls):
    model = cls(cls.Hparams(), info(1, 8, 8), 64)
    out = model(torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 1, 8, 8) and out.min() >= 0 and out.max() <= 1
    assert model.encode(torch.rand(5, 1, 8, 8)).shape == (5, cls.Hparams().bottleneck)


def test_dcgan_shapes():
    model = gan.DCGAN(gan.DCGANHparams(features=16), info(1, 8, 8), 0)
    fake = model(torch.randn(4, 100))
    assert fake.shape == (4, 1, 8, 8) and fake.abs().max() <= 1
    assert model.discriminator(fake).shape == (4, 1)


def test_perceptron_rule_is_the_classical_update():
    p = perceptron.Perceptron(perceptron.PerceptronHparams(lr=0.5), info(2, classes=2), 1)
    p.learn(torch.tensor([[1.0, 2.0]]), torch.tensor([1]))  # predicted 0 (score 0), target 1
    assert p.w.tolist() == [0.5, 1.0] and float(p.b) == 0.5  # w += eta (y - y_hat) x
    p.learn(torch.tensor([[1.0, 2.0]]), torch.tensor([1]))  # now right: no change
    assert p.w.tolist() == [0.5, 1.0]


def test_hinge_matches_the_notes_example():
    # notes U3.8: hinge(y=1, y_hat=0.3) = max(0, 1 - 0.3) = 0.7 (one logit, y in {0,1} -> {-1,+1})
    loss = classification_loss("hinge", torch.tensor([[0.3]]), torch.tensor([1]))
    assert loss.item() == pytest.approx(0.7)
