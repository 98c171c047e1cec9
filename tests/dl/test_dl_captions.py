"""Generated captioned data (shape scenes, moving digits), decoding and caption metrics (issue 18)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sacrebleu.metrics import BLEU

from trainfleet.dl.data import shapes, videos
from trainfleet.dl.data.captions import decode, encode
from trainfleet.dl.data.source import DataInfo, DataSpec, export, prepare, to_arrays
from trainfleet.dl.models import captioner
from trainfleet.dl.models.decoding import END_ID
from trainfleet.dl.tasks import caption


@pytest.fixture(scope="module")
def scenes():
    table = shapes.scenes(40, seed=3)
    info = prepare(DataSpec(dataset="shapes"), 0).info
    return table, info, to_arrays(table, info)


def test_scene_masks_boxes_and_captions_describe_the_same_objects(scenes):
    table, info, arrays = scenes
    assert arrays["x"].shape == (40, 3, 32, 32) and arrays["mask"].shape == (40, 32, 32)
    assert arrays["boxes"].shape == (40, 2, 4) and arrays["tokens"].shape == (40, 3, shapes.CAPTION_LEN)
    for i in range(40):
        refs = [decode(r, info.vocab) for r in arrays["tokens"][i]]
        stated = {shapes.facts(r) for r in refs}
        assert len(stated) == 1 and None not in stated  # three phrasings, one set of facts
        layout, _, first_shape, _, second_shape = stated.pop()
        kinds = arrays["box_labels"][i]
        assert [shapes.SHAPES[k] for k in kinds] == [first_shape, second_shape] and arrays["y"][i] == kinds[0]
        for box, kind in zip(arrays["boxes"][i], kinds):
            x0, y0, x1, y1 = box.astype(int)
            inside = arrays["mask"][i, y0:y1, x0:x1]
            assert (inside == kind + 1).mean() > 0.4  # the box holds its object's mask
        (ax0, ay0, _, _), (bx0, by0, _, _) = arrays["boxes"][i]
        assert (bx0 > ax0) if layout == "horizontal" else (by0 > ay0)  # "left of" / "above" hold


def test_captions_round_trip_through_ids():
    ids = encode(["a red circle left of a blue square"], shapes.VOCAB, shapes.CAPTION_LEN)
    assert decode(ids[0], shapes.VOCAB) == "a red circle left of a blue square"
    with pytest.raises(ValueError, match="longer"):
        encode(["a " * 20], shapes.VOCAB, shapes.CAPTION_LEN)


def test_facts_read_each_phrasing_and_reject_others():
    a = shapes.facts("a red circle left of a blue square")
    assert a == ("horizontal", "red", "circle", "blue", "square")
    assert shapes.facts("a blue square right of a red circle") == a
    assert shapes.facts("there is a red circle left of a blue square") == a
    assert shapes.facts("a red circle left of a") is None
    assert videos.facts("digit 7 moves right then down") == ("7", "right", "down")
    assert videos.facts("the 7 moves right then sideways") is None


def test_moving_digits_follow_their_caption():
    table = videos.moving_digits()
    info = prepare(DataSpec(dataset="moving-digits"), 0).info
    arrays = to_arrays(table.slice(0, 30), info)
    for video, refs in zip(arrays["x"], arrays["tokens"]):
        _, first, second = videos.facts(decode(refs[0], info.vocab))
        ys, xs = zip(*[np.argwhere(frame[0] > 0).mean(0) for frame in video])
        half = videos.FRAMES // 2
        for d, seg in ((first, slice(0, half + 1)), (second, slice(half, None))):  # frame `half` turns
            dx, dy = videos.DIRECTIONS[d]
            move = np.array([xs[seg][-1] - xs[seg][0], ys[seg][-1] - ys[seg][0]])
            assert np.allclose(move, np.array([dx, dy]) * videos.STEP * (len(xs[seg]) - 1), atol=1e-4)


def test_data_export_writes_images_masks_boxes_and_captions_to_parquet(tmp_path):
    path = export("shapes-test", str(tmp_path))
    table = pq.read_table(path)
    assert table.num_rows == 500 and {"mask", "boxes", "tokens", "label"} <= set(table.column_names)
    spec = DataSpec(path=path)
    prepared = prepare(spec, 0)
    assert prepared.info.vocab == shapes.VOCAB and prepared.info.shape == (3, 32, 32)


class Counting(captioner.SentenceDecoder):
    """A fixed decoder whose best next word is always (previous + 1), ending after `stop`."""

    vocab = tuple(str(i) for i in range(8))

    def __init__(self, stop: int) -> None:
        super().__init__()
        self.stop = stop

    def start(self, x):
        return (x,)

    def step(self, tokens, state):
        nxt = torch.where(tokens >= self.stop, END_ID, tokens + 1)
        logits = torch.nn.functional.one_hot(nxt, 8).float() * 3 + state[0] * 0.1
        return logits, state


def test_beam_search_of_width_one_is_greedy_decoding():
    torch.manual_seed(0)
    hp = captioner.CaptionerHparams(channels=[8, 8], hidden=16, embed=8)
    info = DataInfo((3, 16, 16), None, (), "label", shapes.VOCAB)
    for cls in (captioner.Captioner, captioner.MergeCaptioner):
        model = cls(hp, info, len(shapes.VOCAB)).eval()
        x = torch.rand(6, 3, 16, 16)
        greedy = model.generate(x, 10, beam=1)
        from trainfleet.dl.models.decoding import beam_search

        assert torch.equal(beam_search(model, model.start(x), 6, 10, 1)[:, :greedy.shape[1]], greedy)
        assert model.generate(x, 10, beam=3).shape[0] == 6


def test_beam_search_finds_a_better_sentence_than_greedy_when_the_first_word_misleads():
    class Trap(captioner.SentenceDecoder):
        """First word: 3 (p=.55) leads to a flat continuation, 4 (p=.45) to a sure one."""

        def start(self, x):
            return (torch.zeros(len(x), dtype=torch.long),)

        def step(self, tokens, state):
            t = state[0]
            logp = torch.full((len(tokens), 6), -20.0)
            first = t == 0
            logp[first, 3], logp[first, 4] = np.log(0.55), np.log(0.45)
            logp[~first & (tokens == 3), 5] = np.log(0.3)
            logp[~first & (tokens == 3), END_ID] = np.log(0.3)
            logp[~first & (tokens == 4), END_ID] = 0.0
            logp[~first & (tokens == 5), END_ID] = 0.0
            logp[~first & (tokens == END_ID), END_ID] = 0.0
            return logp, (t + 1,)

    model = Trap()
    assert model.generate(torch.zeros(1, 1), 4, beam=1)[0, 0] == 3
    assert model.generate(torch.zeros(1, 1), 4, beam=2)[0, 0] == 4  # 0.45 * 1 > 0.55 * 0.3


def test_teacher_forcing_gives_one_score_vector_per_reference_word():
    hp = captioner.CaptionerHparams(channels=[8, 8], hidden=16, embed=8, heads=2)
    info = DataInfo((3, 16, 16), None, (), "label", shapes.VOCAB)
    model = captioner.Captioner(hp, info, len(shapes.VOCAB))
    logits = model(torch.rand(4, 3, 16, 16), torch.ones(4, 7, dtype=torch.long))
    assert logits.shape == (4, 7, len(shapes.VOCAB))
    weights = model.decoder.last_weights
    assert weights.shape == (4, 2, 16) and torch.allclose(weights.sum(-1), torch.ones(4, 2))  # 4x4 positions


def test_bleu_summed_over_batches_equals_corpus_bleu_at_once():
    hyps = ["a red circle left of a blue square", "a green square above a red triangle", "a blue circle"]
    refs = [["a red circle left of a blue square", "a blue square right of a red circle"],
            ["a green square above a red circle", "a red circle below a green square"],
            ["a blue circle left of a red square", "a red square right of a blue circle"]]
    first, second = caption.bleu_sums(hyps[:2], refs[:2]), caption.bleu_sums(hyps[2:], refs[2:])
    sums = {k: first[k] + second[k] for k in first}
    whole = BLEU(tokenize="none").corpus_score(hyps, [list(r) for r in zip(*refs)]).score / 100
    assert caption.bleu_from_sums(sums, 4) == pytest.approx(whole)
    assert caption.bleu_from_sums(sums, 1) > caption.bleu_from_sums(sums, 4)


def test_a_weights_file_loads_into_the_encoder(tmp_path):
    hp = captioner.CaptionerHparams(channels=[8, 8])
    donor = captioner.image_encoder(hp, 3)
    with torch.no_grad():
        donor[0][0].weight.fill_(0.25)
    torch.save(donor.state_dict(), tmp_path / "encoder.pt")
    loaded = captioner.image_encoder(hp.model_copy(update={"weights": str(tmp_path / "encoder.pt")}), 3)
    assert torch.equal(loaded[0][0].weight, torch.full_like(loaded[0][0].weight, 0.25))
    with pytest.raises(ValueError, match="no such weights file"):
        captioner.CaptionerHparams(weights=str(tmp_path / "missing.pt"))


def test_eval_prints_generated_captions_beside_their_references(tmp_path):
    from dl_helpers import train

    from trainfleet.dl.evaluate import evaluate_dl_run

    train("captioner", "caption", {"dataset": "shapes-test", "batch_size": 64},
          {"epochs": 1, "channels": [8, 8], "hidden": 16, "embed": 8}, checkpoint_dir=tmp_path)
    out = evaluate_dl_run(tmp_path, tmp_path, samples=3)
    lines = out["samples"].strip().splitlines()
    assert len(lines) == 3 and all("<-" in line and line.count(" | ") == 2 for line in lines)
    assert 0 <= out["val_bleu4"] <= out["val_bleu1"] <= 1


def test_the_notes_video_model_emits_one_word_per_frame_while_video_to_text_writes_a_sentence():
    """The notes' Keras model (L6990-7010): LSTM(256, return_sequences) -> Dense(256) -> Dense(vocab):
    a word for every frame, so a caption's length is the video's; ours decodes to <end>."""
    from trainfleet.dl.models.video_to_text import VideoToText

    frames, vocab = 8, len(videos.VOCAB)
    lstm = torch.nn.LSTM(64, 256, batch_first=True)
    head = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, vocab))
    for t in (frames, 3):
        assert head(lstm(torch.rand(2, t, 64))[0]).shape == (2, t, vocab)  # output length = frame count
    info = DataInfo((frames, 1, 20, 20), 10, (), "label", videos.VOCAB)
    model = VideoToText(captioner.CaptionerHparams(channels=[8, 8], hidden=16, embed=8), info, vocab)
    for words in (5, 11):  # one score vector per word of the sentence, whatever the number of frames
        assert model(torch.rand(2, frames, 1, 20, 20), torch.ones(2, words, dtype=torch.long)).shape == (2, words, vocab)


def test_report_attention_maps_follow_the_greedy_caption_word_by_word():
    from trainfleet.dl.caption_figure import greedy_with_attention

    torch.manual_seed(0)
    hp = captioner.CaptionerHparams(channels=[8, 8], hidden=16, embed=8, heads=2)
    info = DataInfo((3, 16, 16), None, (), "label", shapes.VOCAB)
    model = captioner.Captioner(hp, info, len(shapes.VOCAB)).eval()
    x = torch.rand(3, 3, 16, 16)
    ids, maps = greedy_with_attention(model, x, 6)
    assert [decode(r, shapes.VOCAB) for r in ids] == [decode(r, shapes.VOCAB) for r in model.generate(x, 6)]
    assert len(maps) == ids.shape[1] and maps[0].shape == (3, 16)  # 4x4 positions per word
    assert all(torch.allclose(m.sum(-1), torch.ones(3)) for m in maps)
    assert greedy_with_attention(captioner.MergeCaptioner(hp, info, len(shapes.VOCAB)).eval(), x, 6)[1] == []
