"""Real speech in other languages: transcripts found in the packages' files, espeak-ng phonemes, alignment."""

from __future__ import annotations

import importlib.util

import pytest

from app.engines.phonetics import ARPABET_PHONES, PhoneticsError
from models.data import real_speech as R
from models.data.tts_espeak import ipa_to_arpabet

needs_espeak = pytest.mark.skipif(importlib.util.find_spec("espeakng_loader") is None,
                                  reason="espeakng-loader not installed")


def test_other_languages_sounds_map_to_the_nearest_english_phone():
    assert ipa_to_arpabet("ʁ") == ["R"] and ipa_to_arpabet("ʋ") == ["V"] and ipa_to_arpabet("β") == ["B"]
    assert ipa_to_arpabet("ʈ͡ʂ") == ["CH"] and ipa_to_arpabet("ɕ") == ["SH"] and ipa_to_arpabet("ɱ") == ["M"]


def test_fillets_dialogue_and_tuxpaint_descriptions_give_transcripts(tmp_path, monkeypatch):
    level = tmp_path / "fillets" / "script" / "bar"
    level.mkdir(parents=True)
    (level / "dialogs_en.lua").write_text('dialogId("bar-v-co", "font_big", "What are we supposed to do?")\n')
    (level / "dialogs_cs.lua").write_text(
        'dialogId("bar-v-co", "font_big", "What are we supposed to do?")\ndialogStr("Ale co s tím budeme dělat?")\n'
        '\n\ndialogId("bar-m-no", "font_small", "Well.")\ndialogStr("No, možná \\"máš\\" pravdu.")\n',
        encoding="utf-8")
    sounds = tmp_path / "fillets" / "sound" / "bar"
    for lang, stem in (("cs", "bar-v-co"), ("cs", "bar-m-no"), ("cs", "bar-x-unknown")):
        (sounds / lang).mkdir(parents=True, exist_ok=True)
        (sounds / lang / f"{stem}.ogg").write_bytes(b"")
    monkeypatch.setattr(R, "FILLETS_DIR", str(tmp_path / "fillets"))
    clips = {c.path.rsplit("/", 1)[1]: c for c in R._fillets()}
    assert clips["bar-v-co.ogg"].transcript == "Ale co s tím budeme dělat?"
    assert clips["bar-v-co.ogg"].speaker == "fillets:cs:font_big" and clips["bar-v-co.ogg"].language == "cs"
    assert clips["bar-m-no.ogg"].transcript == 'No, možná "máš" pravdu.'
    assert clips["bar-x-unknown.ogg"].transcript is None  # no line in the scripts: unlabelled audio

    stamp = tmp_path / "tux" / "animals"
    stamp.mkdir(parents=True)
    (stamp / "cat.txt").write_text("A cat.\nes.utf8=Un gato.\nru.utf8=Кошка.\n", encoding="utf-8")
    for suffix in ("", "_es", "_ru", "_fr"):
        (stamp / f"cat_desc{suffix}.ogg").write_bytes(b"")
    monkeypatch.setattr(R, "TUXPAINT_DIR", str(tmp_path / "tux"))
    found = {c.language: c.transcript for c in R._tuxpaint()}
    # Non-Latin scripts count as text; a language without a line in the .txt has no transcript.
    assert found == {"en": "A cat.", "es": "Un gato.", "ru": "Кошка.", "fr": None}


@needs_espeak
def test_phonemise_gives_arpabet_words():
    from models.data.foreign import ForeignAligner

    words = ForeignAligner().phonemise("Musíme je všechny pobít.", "cs")
    assert len(words) == 4
    assert all(p in ARPABET_PHONES for w in words for p in w)
    assert words[0][0] == "M" and "B" in words[3]


@needs_espeak
def test_czech_speech_aligns_through_espeak_phonemes():
    from models.data.foreign import ForeignAligner
    from models.data.tts_espeak import EspeakSynth

    # espeak-ng's own voices in other languages fit the English acoustic model worse than real speakers do
    # (about 70% of the real Czech clips align); this Klatt voice and sentence align.
    text = "Musíme je všechny pobít, mami."
    utt = EspeakSynth.shared().synth(text, voice="cs+klatt", rate=140)
    aligner = ForeignAligner()
    phones = aligner.align(utt.samples, text, "cs")
    speech = [p for p in phones if p.phone != "SIL"]
    assert len(speech) >= 18
    assert all(a.end <= b.start + 1e-6 for a, b in zip(phones, phones[1:], strict=False))
    # The aligned bilabials sit where the synthesiser put them (its own phone events are exact).
    truth = [p.start for p in utt.phones if p.phone in ("P", "B", "M")]
    found = [p.start for p in speech if p.phone in ("P", "B", "M")]
    assert len(found) == len(truth) >= 4
    assert max(abs(a - b) for a, b in zip(found, truth, strict=True)) < 0.08
    with pytest.raises(PhoneticsError):
        aligner.align(utt.samples, "Jak se jmenuje ten velký červený drak na kopci u řeky?", "cs")
