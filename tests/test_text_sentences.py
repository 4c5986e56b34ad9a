"""Sentence restoration: punctuated captions, a token-classification model, an LLM, pauses."""

from __future__ import annotations

import re

import numpy as np
import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.text.sentences import (
    DEFAULT_PUNCTUATION_MODEL,
    is_punctuated,
    pauses_after,
    punctuation_pipeline,
    restore_sentences,
)
from quilt_hf.text.transcript import Word

LABELS = ["0", ".", ",", "?", "-", ":"]  # the label set of DEFAULT_PUNCTUATION_MODEL


def rolling_words(sentences: list[str], pace: float = 0.07, pause: float = 0.6) -> list[Word]:
    """Auto-caption style: lowercase, no punctuation, each word ends where the next starts (the
    caption format carries word starts only), with a pause hidden in each sentence's last word."""
    words, t = [], 0.0
    for sentence in sentences:
        tokens = sentence.split()
        for i, token in enumerate(tokens):
            length = pace * (len(token) + 1) + (pause if i == len(tokens) - 1 else 0.0)
            words.append(Word(round(t, 3), round(t + length, 3), token))
            t += length
    return words


SPOKEN = [
    "here we see a basal cell carcinoma of the skin",
    "the nests show peripheral palisading and retraction artifact",
    "note the mitotic figures in the center of this field",
]


def test_punctuated_captions_are_split_after_their_marks():
    tokens = ["Here", "is", "a", "node.", "It", "is", "big!", "Why?"]
    words = [Word(i * 0.4, i * 0.4 + 0.3, t) for i, t in enumerate(tokens)]
    assert is_punctuated(words)
    restored = restore_sentences(words)
    assert restored.method == "captions"
    assert [s.text for s in restored.sentences] == ["Here is a node.", "It is big!", "Why?"]
    assert [(s.first, s.last) for s in restored.sentences] == [(0, 4), (4, 7), (7, 8)]


def test_unpunctuated_auto_captions_are_restored_from_pauses():
    words = rolling_words(SPOKEN)
    assert not is_punctuated(words)
    pauses = pauses_after(words)
    assert pauses[9] > 0.4 and np.median(pauses[:-1]) < 0.05  # the pause hides in "skin"'s duration
    restored = restore_sentences(words)
    assert restored.method == "pauses"
    assert [s.text for s in restored.sentences] == [
        "Here we see a basal cell carcinoma of the skin.",
        "The nests show peripheral palisading and retraction artifact.",
        "Note the mitotic figures in the center of this field.",
    ]
    assert [w.text for w in restored.words] == [w.text for w in words]  # raw words kept


def test_pauses_never_end_a_sentence_on_a_function_word_or_inside_a_term():
    words = rolling_words(["this is the", "basal cell", "carcinoma we saw before"], pause=0.8)
    restored = restore_sentences(words, "pauses")
    # pauses after "the" (closed-class) and inside "basal cell carcinoma" (a lexicon term) are
    # hesitations, not sentence ends
    assert [s.text for s in restored.sentences] == [
        "This is the basal cell carcinoma we saw before."
    ]


def test_a_sentence_without_any_pause_is_split_when_too_long():
    words = rolling_words([" ".join(["cells"] * 100)], pause=0.0)
    restored = restore_sentences(words, "pauses", max_words=30)
    assert len(restored.sentences) >= 4
    assert all(s.last - s.first <= 30 for s in restored.sentences)
    assert sum(s.last - s.first for s in restored.sentences) == 100


# a tiny transformer with the punctuation label set of DEFAULT_PUNCTUATION_MODEL
TINY_SIZES = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "num_labels": len(LABELS),
    "id2label": dict(enumerate(LABELS)),
    "label2id": {label: i for i, label in enumerate(LABELS)},
}


def _tiny_classifier(model_class, config, bias: list[float] | None):
    """A random ``model_class`` of ``config`` (seeded); with ``bias``, every token gets that
    label score, so the model says the same mark after every word."""
    import torch

    torch.manual_seed(0)
    model = model_class(config).eval()
    if bias is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.copy_(torch.tensor(bias))
    return model


def _tiny_punctuation_model(bias: list[float] | None = None):
    """A random BERT-like token classifier with the punctuation label set, built offline, and a
    WordPiece tokenizer that splits some words into several sub-tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "here", "we", "see", "a", "basal", "cell"]
    vocab += ["carcin", "##oma", "of", "the", "skin", "nests", "show", "pal", "##isa", "##ding"]
    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
    )
    model = _tiny_classifier(
        BertForTokenClassification,
        BertConfig(vocab_size=len(vocab), max_position_embeddings=256, **TINY_SIZES),
        bias,
    )
    return model, tokenizer


def _tiny_xlmr_punctuation_model(bias: list[float] | None = None):
    """A random XLM-RoBERTa token classifier with the punctuation label set: the architecture
    and tokenizer family of ``DEFAULT_PUNCTUATION_MODEL``, built offline. Its SentencePiece
    (Unigram, ``▁`` word marks) vocabulary is trained here on a few lines and kept small, so
    words split into several pieces, some into a lone ``▁`` and then the word, and the pieces'
    offsets take in the space before a word, as the ``Metaspace`` pre-tokenizer gives them."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import (
        XLMRobertaConfig,
        XLMRobertaForTokenClassification,
        XLMRobertaTokenizer,
    )

    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    backend = SentencePieceUnigramTokenizer()
    backend.train_from_iterator(
        [
            "here we see a basal cell carcinoma of the skin",
            "the nests show peripheral palisading and retraction artifact",
            "note the mitotic figures in the centre of this field",
        ],
        vocab_size=60,
        special_tokens=special,
        unk_token="<unk>",
        show_progress=False,
    )
    tokenizer = XLMRobertaTokenizer(
        tokenizer_object=backend._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=260,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **TINY_SIZES,
    )
    return _tiny_classifier(XLMRobertaForTokenClassification, config, bias), tokenizer


TINY_MODELS = {
    "bert-wordpiece": _tiny_punctuation_model,
    "xlmr-sentencepiece": _tiny_xlmr_punctuation_model,
}


@pytest.mark.parametrize("family", TINY_MODELS)
def test_token_classifier_marks_come_from_each_words_last_sub_token(family):
    import torch

    model, tokenizer = TINY_MODELS[family]()
    words = rolling_words(
        ["here we see a basal cell carcinoma of the skin", "nests show palisading"]
    )
    restored = restore_sentences(words, "model", model=punctuation_pipeline(model, tokenizer))
    assert restored.method == "model"
    # what the model itself says: argmax label of the last sub-token of each word (the last
    # token that overlaps the word's letters: a SentencePiece piece may start at the space)
    text = " ".join(w.text for w in words)
    encoded = tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        labels = model(input_ids=encoded["input_ids"]).logits[0].argmax(-1).tolist()
    offsets = encoded["offset_mapping"][0].tolist()
    expected, position = [], 0
    for w in words:
        end = position + len(w.text)
        last = max(k for k, (a, b) in enumerate(offsets) if max(a, position) < min(b, end))
        expected.append(LABELS[labels[last]])
        position = end + 1
    assert "carcinoma" in text and len(offsets) > len(words) + 2  # sub-tokens were exercised
    if family == "xlmr-sentencepiece":  # the SentencePiece quirks were exercised too
        pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
        assert "▁" in pieces
        assert any(b > a and text[a] == " " for a, b in offsets)
    assert len(set(expected)) > 1  # a random model: some words marked, some not
    for k, (word, label) in enumerate(zip(restored.tokens, expected, strict=True)):
        if k == len(words) - 1:
            continue  # the transcript's end always ends a sentence
        bare = word.lower().rstrip(".,?:")
        assert bare == words[k].text
        if label in (".", "?"):
            assert word.endswith(label)
            assert any(s.last == k + 1 for s in restored.sentences)
        elif label == ",":
            assert word.endswith(",")
        else:
            assert not any(s.last == k + 1 for s in restored.sentences)


@pytest.mark.parametrize(
    ("bias", "count"),
    [([0.0, 9.0, 0.0, 0.0, 0.0, 0.0], 13), ([9.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1)],
)
@pytest.mark.parametrize("family", TINY_MODELS)
def test_token_classifier_that_always_or_never_ends_a_sentence(bias, count, family):
    model, tokenizer = TINY_MODELS[family](bias)
    words = rolling_words(["here we see a basal cell carcinoma of the skin nests show palisading"])
    restored = restore_sentences(words, "model", model=punctuation_pipeline(model, tokenizer))
    assert len(restored.sentences) == count
    assert all(s.text[0].isupper() and s.text.endswith(".") for s in restored.sentences)


def test_missing_punctuation_model_is_a_clear_error(tmp_path):
    with pytest.raises(QuiltError, match="punctuation model"):
        punctuation_pipeline(str(tmp_path / "no-such-model"))
    assert DEFAULT_PUNCTUATION_MODEL.count("/") == 1  # a Hub id


class PunctuatingChat:
    """An LLM double that punctuates, but also changes one word and drops another."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def complete_json(self, system: str, user: str) -> dict:
        self.asked.append(user)
        return {"text": self.answer}


def test_llm_sentences_are_mapped_back_to_the_raw_words():
    words = rolling_words(["here we see a basal cell carcinoma", "the nests show palisading"])
    chat = PunctuatingChat("Here we see a basal-cell carcinoma. Nests show Palisading!")
    restored = restore_sentences(words, chat=chat)
    assert restored.method == "llm" and chat.asked == [" ".join(w.text for w in words)]
    texts = [s.text for s in restored.sentences]
    # "basal cell" (changed) keeps its raw words, "the" (dropped) is kept, nothing invented
    assert texts == ["Here we see a basal cell carcinoma.", "The nests show Palisading!"]


def test_llm_garbage_leaves_the_words_and_unknown_methods_fail():
    words = rolling_words(SPOKEN)

    class Garbage:
        def complete_json(self, system, user):
            return {"corrections": {}}

    restored = restore_sentences(words, "llm", chat=Garbage())
    assert " ".join(restored.tokens).lower().replace(".", "") == " ".join(w.text for w in words)
    with pytest.raises(QuiltError, match="unknown sentence method"):
        restore_sentences(words, "magic")
    with pytest.raises(QuiltError, match="needs the corrector"):
        restore_sentences(words, "llm")


def cue_words(cues: list[tuple[str, float]], pace: float = 0.07) -> list[Word]:
    """Captions without word timings (YouTube's newer layout, plain cues): each cue's time is
    spread over its words by length, as the caption parser does; ``extra`` seconds of silence
    inside a cue are smeared over all of its words."""
    words, t = [], 0.0
    for text, extra in cues:
        tokens = text.split()
        total = sum(len(w) + 1 for w in tokens)
        duration = pace * total + extra
        for token in tokens:
            length = duration * (len(token) + 1) / total
            words.append(Word(round(t, 3), round(t + length, 3), token))
            t += length
    return words


def test_a_pause_smeared_over_an_untimed_cue_is_put_at_its_likely_sentence_end():
    from quilt_hf.text.sentences import cue_groups

    words = cue_words(
        [
            ("we discuss basal cell carcinoma", 0.0),
            ("and the retraction of its", 0.0),
            ("nests from the tumor stroma", 0.5),  # ... "stroma." then "there is ..."
            ("there is a clear cleft", 0.0),
            ("next to the normal tissue here", 0.45),  # ... "tissue." then "here we see"
            ("we see the epidermis above", 0.0),
        ]
    )
    # cues at the same pace cannot be told apart (and hold no pause); a slowed cue can
    assert [b - a for a, b in cue_groups(words)] == [10, 5, 5, 6, 5]
    restored = restore_sentences(words, "pauses")
    assert [s.text for s in restored.sentences] == [
        "We discuss basal cell carcinoma and the retraction of its nests from the tumor stroma.",
        "There is a clear cleft next to the normal tissue.",
        "Here we see the epidermis above.",
    ]


def youtube_inline_vtt(timed: list[tuple[str, float]], end: float) -> str:
    """Word-timed auto-captions as YouTube serves them: each cue a blank-ish first line then the
    words with inline ``<hh:mm:ss.mmm><c> word</c>`` start times, and a 10 ms cue between."""

    def stamp(t: float) -> str:
        return f"00:{int(t // 60):02d}:{t % 60:06.3f}"

    out, line = ["WEBVTT", "Kind: captions", "Language: en", ""], 6
    for k in range(0, len(timed), line):
        chunk = timed[k : k + line]
        stop = timed[k + line][1] if k + line < len(timed) else end
        text = chunk[0][0] + "".join(f"<{stamp(t)}><c> {w}</c>" for w, t in chunk[1:])
        out += [f"{stamp(chunk[0][1])} --> {stamp(stop)} align:start position:0%", " ", text, ""]
    return "\n".join(out) + "\n"


def test_word_timed_pause_after_a_long_word_ends_a_sentence():
    """A word takes a fixed time plus a time per letter: a pace per letter alone (inflated by
    the short words' fixed part) says "diagnosis" needs more than it took, hiding the 0.25 s
    pause after it; the fitted two-part model finds it, and no end inside a sentence."""
    from quilt_hf.text.captions import parse_captions

    spoken = [
        "numbers like these guide the differential diagnosis",
        "returning to this field the earlier findings are confirmed",
        "it is in the middle of the field that we see it",
    ]
    timed, t = [], 0.5
    for sentence in spoken:
        tokens = sentence.split()
        for i, token in enumerate(tokens):
            timed.append((token, round(t, 3)))
            t += 0.12 + 0.045 * len(token) + (0.25 if i == len(tokens) - 1 else 0.0)
    words = parse_captions(youtube_inline_vtt(timed, t)).words
    assert [w.text for w in words] == [w for w, _ in timed]
    restored = restore_sentences(words, "pauses")
    assert [s.text for s in restored.sentences] == [
        "Numbers like these guide the differential diagnosis.",
        "Returning to this field the earlier findings are confirmed.",
        "It is in the middle of the field that we see it.",
    ]


def test_the_speech_model_is_fitted_to_the_words_without_a_pause():
    """A time per word plus a time per character, fitted to the rows it explains best: pauses
    (added to a third of the rows, up to 1 s) do not pull it up."""
    from quilt_hf.text.sentences import fit_speech_model

    rng = np.random.default_rng(0)
    chars = rng.integers(2, 16, 300).astype(float)
    seconds = 0.12 + 0.045 * chars + rng.normal(0, 0.005, 300)
    paused = rng.random(300) < 1 / 3
    seconds[paused] += rng.uniform(0.2, 1.0, paused.sum())
    per_word, per_char = fit_speech_model(np.stack([np.ones(300), chars], 1), seconds)
    assert per_word == pytest.approx(0.12, abs=0.02) and per_char == pytest.approx(0.045, abs=0.003)


@pytest.mark.parametrize("method", ["auto", "pauses", "captions", "model"])
def test_a_transcript_without_words_has_no_sentences(method):
    """A lecture whose captions were all sound events ([Music]) leaves no words."""
    never_called = lambda text: pytest.fail("the model was asked about no words")  # noqa: E731
    restored = restore_sentences([], method, model=never_called)
    assert restored.sentences == [] and restored.tokens == []


def test_a_new_speaker_ends_the_sentence_before_it_whatever_the_pauses():
    """ ">>" in the captions (``Word.turn``) is a sure sentence end, even with no pause there."""
    texts = ["so", "that", "is", "the", "liver", "thank", "you", "very", "much", "for", "coming"]
    words = [Word(0.3 * i, 0.3 * i + 0.25, t, turn=(t == "thank")) for i, t in enumerate(texts)]
    for method in ("pauses", "auto"):
        restored = restore_sentences(words, method)
        assert [s.text for s in restored.sentences] == [
            "So that is the liver.",
            "Thank you very much for coming.",
        ]
        assert restored.sentences[0].certainty == 1.0


class ReadsAhead:
    """A punctuation model double whose marks need the words after them, as a real model's do:
    a period after a word only when the next word it reads is ``here``, and (as models trained on
    whole texts tend to) one after the last word it is given."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> list[dict]:
        self.calls += 1
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        entities = []
        for i, (a, b) in enumerate(spans):
            last = i == len(spans) - 1
            ends = last or text[spans[i + 1][0] : spans[i + 1][1]] == "here"
            entities.append({"start": a, "end": b, "entity": "." if ends else "0"})
        return entities


class PunctuatesWhatItReads:
    """An LLM double with the same habit: sentences before each ``here``, a period at the end."""

    def complete_json(self, system: str, user: str) -> dict:
        sentences = re.split(r" (?=here )", user)
        return {"text": " ".join(s[0].upper() + s[1:] + "." for s in sentences)}


# 300 words in sentences of seven: windows of MODEL_WINDOW_WORDS end in mid-sentence
LONG = ["here we see the cells of skin"] * 42 + ["here we go"]


@pytest.mark.parametrize("method", ["model", "llm"])
def test_a_window_edge_is_not_a_sentence_end(method):
    from quilt_hf.text.sentences import MODEL_WINDOW_WORDS

    words = rolling_words(LONG, pause=0.0)
    assert len(words) > MODEL_WINDOW_WORDS and MODEL_WINDOW_WORDS % 7 != 0
    model = ReadsAhead()
    restored = restore_sentences(
        words,
        method,
        model=model if method == "model" else None,
        chat=PunctuatesWhatItReads() if method == "llm" else None,
    )
    assert [s.last for s in restored.sentences] == [7 * k for k in range(1, 43)] + [297]
    assert all(s.text == "Here we see the cells of skin." for s in restored.sentences[:-1])
    if method == "model":
        assert model.calls >= 3  # more than one window was read


def test_a_window_longer_than_the_model_can_read_is_read_in_parts():
    """150 words of rare words take more tokens than the model has positions for; the
    token-classification pipeline then fails on the whole call (an index error), so such a window
    is read in parts, and every word still gets its mark."""
    model, tokenizer = _tiny_xlmr_punctuation_model([0.0, 9.0, 0.0, 0.0, 0.0, 0.0])
    classify = punctuation_pipeline(model, tokenizer)
    limit = model.config.max_position_embeddings - 2
    calls: list[int] = []

    class Counting:  # the pipeline, counting the tokens of each call
        def __init__(self) -> None:
            self.tokenizer, self.model = classify.tokenizer, classify.model

        def __call__(self, text: str):
            calls.append(len(tokenizer(text)["input_ids"]))
            return classify(text)

    words = rolling_words(["here we see a basal cell carcinoma of the skin"] * 15)
    assert len(tokenizer(" ".join(w.text for w in words))["input_ids"]) > limit
    restored = restore_sentences(words, "model", model=Counting())
    assert calls and max(calls) <= limit
    assert len(restored.sentences) == len(words)  # the model ends a sentence after every word
