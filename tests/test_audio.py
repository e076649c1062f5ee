"""Sound and voice in `generation.audio`: subtitles, narrators, recordings, Whisper, the mix.

Real espeak-ng, real ffmpeg, and tiny random transformers models built at test time.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from generation.audio.base import AudioError, AudioRejected
from generation.audio.listen import read_recording
from generation.audio.mix import Narration, Soundtrack, add_soundtrack
from generation.audio.music import MusicLibrary, ambient_tone
from generation.audio.score import SceneSound, frames_to_hold, hold_last_frame, score_video
from generation.audio.speech import EspeakSynth
from generation.audio.subtitles import Cue, scene_cues, srt_text, vtt_text, write_subtitles
from generation.audio.vits import VitsSynth
from generation.audio.whisper import WhisperRecognizer
from generation.base import ClipSpec
from generation.ffmpeg import ffmpeg_command
from generation.preview import PreviewRenderer
from generation.probe import probe_streams, probe_video
from generation.stitch import stitch_clips, timeline_spans
from tests import recordings
from tests.tiny_models.audio import tiny_vits_fixture, tiny_whisper_fixture  # noqa: F401

KO_SCENES = ["어젯밤 꿈에서 나는 바다 위를 날고 있었다.", "갑자기 큰 고래가 나타나 나를 삼켰다."]


# -- subtitles --------------------------------------------------------------------------------


def test_cues_stay_inside_their_scene_and_never_overlap_across_a_crossfade() -> None:
    spans = [(0.0, 3.0), (2.5, 5.5), (5.0, 8.0)]  # half-second crossfades
    cues = scene_cues(spans, ["one", "two  words", "three"])
    assert [c.text for c in cues] == ["one", "two words", "three"]
    for cue, (start, end) in zip(cues, spans, strict=True):
        assert start <= cue.start < cue.end <= end
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert scene_cues([(0.0, 2.0), (2.0, 4.0)], ["said", "  "]) == [Cue(0.0, 2.0, "said")]  # a silent scene


def test_srt_and_vtt_formats() -> None:
    cues = [Cue(0.0, 2.5, "고래가 <나를> 삼켰다"), Cue(2.5, 3661.0042, "a --> b & c")]
    assert srt_text(cues) == (
        "1\n00:00:00,000 --> 00:00:02,500\n고래가 <나를> 삼켰다\n\n"
        "2\n00:00:02,500 --> 01:01:01,004\na --> b & c\n"
    )
    assert vtt_text(cues) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n고래가 &lt;나를> 삼켰다\n\n"
        "00:00:02.500 --> 01:01:01.004\na --&gt; b &amp; c\n"
    )


# -- narrators --------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "short", "long"), [
    ("ko", "고래.", "갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다."),
    ("en", "A whale.", "Suddenly the sky went dark and a huge whale rose and swallowed me whole."),
])  # fmt: skip
def test_espeak_speaks_korean_and_english_longer_text_takes_longer(
    tmp_path: Path, language: str, short: str, long: str
) -> None:
    synth = EspeakSynth()
    a = synth.speak(short, language, tmp_path / "short.wav")
    b = synth.speak(long, language, tmp_path / "long.wav")
    assert 0.2 < a.duration < b.duration < 15
    assert read_recording(b.path, max_seconds=60).duration == pytest.approx(b.duration, abs=0.05)  # really speech
    with pytest.raises(AudioError, match="blank"):
        synth.speak("   ", language, tmp_path / "blank.wav")


def test_vits_speaks_from_a_local_folder_deterministically(tmp_path: Path, tiny_vits: Path) -> None:
    synth = VitsSynth({"en": tiny_vits})
    a = synth.speak("a whale swallowed me", "en", tmp_path / "a.wav")
    b = synth.speak("a whale swallowed me", "en", tmp_path / "b.wav")
    assert a.sample_rate == 16000 and a.duration > 0
    assert a.path.read_bytes() == b.path.read_bytes()
    longer = synth.speak("a whale swallowed me and my house and the sea", "en", tmp_path / "c.wav")
    assert longer.duration > a.duration
    with pytest.raises(AudioError, match="no symbols"):  # Hangul is outside this voice's vocabulary
        synth.speak("고래", "ko", tmp_path / "ko.wav")
    with pytest.raises(AudioError, match="no VITS model"):
        VitsSynth({"en": tmp_path / "missing"}).speak("hello", "en", tmp_path / "x.wav")


# -- recordings and Whisper -------------------------------------------------------------------


def test_a_voice_note_is_read_and_the_bad_ones_are_refused_with_a_reason(tmp_path: Path) -> None:
    note = recordings.voice_note(tmp_path / "voice.ogg", KO_SCENES[0])
    heard = read_recording(note, max_seconds=60)
    assert heard.codec == "opus" and 1.0 < heard.duration < 10 and heard.samples.dtype == np.float32

    cases = {
        "not_audio": recordings.not_audio(tmp_path / "diary.ogg"),
        "too_long": recordings.two_hours(tmp_path / "long.wav"),
        "silent": recordings.silent_note(tmp_path / "silence.ogg"),
        "unsupported_codec": recordings.odd_codec(tmp_path / "odd.wav"),
    }
    for reason, path in cases.items():
        with pytest.raises(AudioRejected) as caught:
            read_recording(path, max_seconds=600)
        assert caught.value.reason == reason, (path.name, str(caught.value))
        if reason == "too_long":
            assert caught.value.seconds == pytest.approx(7200)  # for the person's message, not parsed from ours
        if reason == "unsupported_codec":
            assert caught.value.codec == "none"  # the WAV's format tag names no codec
    with pytest.raises(AudioRejected, match="longer than 2 s") as caught:  # measured while decoding too
        read_recording(note, max_seconds=2)
    assert caught.value.reason == "too_long"


def test_whisper_transcribes_a_voice_note_from_a_local_folder(tmp_path: Path, tiny_whisper: Path) -> None:
    note = recordings.voice_note(tmp_path / "voice.ogg", KO_SCENES[1])
    samples = read_recording(note, max_seconds=60).samples
    whisper = WhisperRecognizer(tiny_whisper)
    heard = whisper.transcribe(samples)
    assert heard.language in ("ko", "en") and heard.duration == pytest.approx(samples.size / 16000)
    assert heard.text and re.fullmatch(r"[가-힣 ]+", heard.text), heard.text  # the tiny model's Korean words
    assert whisper.transcribe(samples, language="ko").language == "ko"
    assert whisper.transcribe(samples).text == heard.text  # greedy decoding: the same audio, the same words
    # longer than Whisper's 30 s window: transcribed window by window
    long = whisper.transcribe(np.tile(samples, int(31 * 16000 / samples.size) + 1))
    assert long.duration > 30 and len(long.text) > 0
    with pytest.raises(AudioError, match="no Whisper model"):
        WhisperRecognizer(tmp_path / "missing").transcribe(samples)


# -- music library ----------------------------------------------------------------------------


def _tone_file(path: Path, seconds: float = 1.0) -> Path:
    cmd = ffmpeg_command(["-f", "lavfi", "-i", f"sine=f=330:d={seconds}", "-c:a", "libvorbis", str(path)])
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def test_music_library_manifest(tmp_path: Path) -> None:
    _tone_file(tmp_path / "calm.ogg")
    _tone_file(tmp_path / "dark.ogg")
    (tmp_path / "manifest.toml").write_text(
        '[[tracks]]\nfile = "calm.ogg"\nemotions = ["joy", "neutral"]\n\n'
        '[[tracks]]\nfile = "dark.ogg"\nemotions = ["fear", "neutral"]\ntitle = "Dark"\n',
        encoding="utf-8",
    )
    library = MusicLibrary.load(tmp_path, known_emotions=["joy", "fear", "neutral", "sadness"])
    assert library.pick("joy") == (tmp_path / "calm.ogg").resolve()
    assert library.pick("fear", key=7) == (tmp_path / "dark.ogg").resolve()
    assert {library.pick("neutral", key=k) for k in (0, 1)} == {(tmp_path / n).resolve() for n in ("calm.ogg", "dark.ogg")}
    assert library.pick("sadness") is None  # the caller falls back to the ambient tone
    (tmp_path / "manifest.toml").write_text('[[tracks]]\nfile = "gone.ogg"\nemotions = ["joy"]\n', encoding="utf-8")
    with pytest.raises(AudioError, match=r"gone\.ogg"):
        MusicLibrary.load(tmp_path)
    (tmp_path / "manifest.toml").write_text('[[tracks]]\nfile = "calm.ogg"\nemotions = ["glee"]\n', encoding="utf-8")
    with pytest.raises(AudioError, match="glee"):
        MusicLibrary.load(tmp_path, known_emotions=["joy"])
    with pytest.raises(AudioError, match=r"manifest\.toml"):
        MusicLibrary.load(tmp_path / "nowhere")


def test_every_emotion_has_its_own_tone() -> None:
    emotions = ["joy", "sadness", "fear", "anger", "surprise", "disgust", "neutral"]
    assert len({ambient_tone(e).expression() for e in emotions}) == len(emotions)
    assert ambient_tone("unknown") == ambient_tone("neutral")


# -- the mix ----------------------------------------------------------------------------------


def _silent_video(folder: Path) -> Path:
    renderer = PreviewRenderer()
    clips = []
    for i, text in enumerate(KO_SCENES):
        spec = ClipSpec(index=i, prompt="p", caption=text, emotion="fear", seed=i, width=64, height=36,
                        num_frames=16, fps=4, language="ko")  # fmt: skip
        clips.append(renderer.render_clip(spec, folder / f"clip{i}.mp4").path)
    return stitch_clips(clips, folder / "silent.mp4").path


def _loudness(path: Path, start: float | None = None, end: float | None = None) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the file's audio, optionally of [start, end) only."""
    trim = [] if start is None else ["-ss", str(start), "-to", str(end)]
    proc = subprocess.run(ffmpeg_command([*trim, "-i", str(path), "-map", "0:a", "-af", "ebur128=peak=true",
                                          "-f", "null", "-"]), capture_output=True, text=True, check=True)  # fmt: skip
    summary = proc.stderr.rpartition("Summary:")[2]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])  # type: ignore[index]
    peak = float(re.search(r"Peak:\s+(-?[\d.inf]+) dBFS", summary)[1])  # type: ignore[index]
    return integrated, peak


def test_soundtrack_narration_over_ducked_music_normalised_with_a_tagged_subtitle_track(tmp_path: Path) -> None:
    video = _silent_video(tmp_path)  # two scenes of 4 s
    synth = EspeakSynth()
    spoken = [synth.speak(text, "ko", tmp_path / f"n{i}.wav") for i, text in enumerate(KO_SCENES)]
    cues = scene_cues([(0.0, 4.0), (4.0, 8.0)], KO_SCENES)
    write_subtitles(cues, tmp_path / "v.srt", tmp_path / "v.vtt")
    track = Soundtrack(
        duration=8.0, music=ambient_tone("fear"), subtitles=tmp_path / "v.srt", language="kor",
        narrations=[Narration(0.0, spoken[0].path), Narration(4.0, spoken[1].path)],
    )  # fmt: skip
    streams = add_soundtrack(video, tmp_path / "out.mp4", track)
    assert [(s.kind, s.codec, s.language) for s in streams] == [
        ("video", "h264", None), ("audio", "aac", "kor"), ("subtitle", "mov_text", "kor"),
    ]
    assert streams == probe_streams(tmp_path / "out.mp4")  # read from the frame-counting run's header
    assert probe_video(tmp_path / "out.mp4").frames == probe_video(video).frames
    integrated, peak = _loudness(tmp_path / "out.mp4")
    assert integrated == pytest.approx(-16.0, abs=1.5) and peak <= -0.5  # EBU R128 target, headroom kept

    # the soft track holds the cues, readable back out of the mp4
    srt = subprocess.run(ffmpeg_command(["-i", str(tmp_path / "out.mp4"), "-map", "0:s", "-f", "srt", "-"]),
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert KO_SCENES[0] in srt and KO_SCENES[1] in srt and "00:00:04,000 -->" in srt



def _band_level(path: Path, band: str, start: float, end: float) -> float:
    """RMS level in dB of one frequency band (an ffmpeg filter, e.g. lowpass=f=200) of [start, end)."""
    decoded = subprocess.run(ffmpeg_command(["-ss", str(start), "-to", str(end), "-i", str(path), "-map", "0:a",
                                             "-af", f"{band},{band}", "-ac", "1", "-f", "f32le", "-"]),
                             capture_output=True, check=True).stdout  # fmt: skip
    samples = np.frombuffer(decoded, dtype="<f4").astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-9))


def test_the_music_ducks_under_the_voice(tmp_path: Path) -> None:
    video = _silent_video(tmp_path)
    music = _tone_file(tmp_path / "low.ogg", seconds=8.5)  # 330 Hz: below the voice's band
    voice = tmp_path / "voice.wav"  # a 3 s "voice" at 3 kHz, from 0 s
    subprocess.run(ffmpeg_command(["-f", "lavfi", "-i", "sine=f=3000:d=3", str(voice)]), check=True, capture_output=True)
    dips = {}
    for duck in (True, False):
        track = Soundtrack(duration=8.0, music=music, narrations=[Narration(0.0, voice)], duck=duck, fade=0.1)
        add_soundtrack(video, tmp_path / f"duck-{duck}.mp4", track)
        during = _band_level(tmp_path / f"duck-{duck}.mp4", "lowpass=f=800", 0.5, 2.5)
        after = _band_level(tmp_path / f"duck-{duck}.mp4", "lowpass=f=800", 4.5, 7.0)
        dips[duck] = after - during
    assert dips[True] > dips[False] + 4.0, dips  # the bed dips by several dB more while the voice speaks


def test_music_from_a_library_file_loops_under_a_longer_video_and_fades(tmp_path: Path) -> None:
    video = _silent_video(tmp_path)
    music = _tone_file(tmp_path / "short.ogg", seconds=1.5)
    add_soundtrack(video, tmp_path / "out.mp4", Soundtrack(duration=8.0, music=music, fade=1.0))
    decoded = subprocess.run(ffmpeg_command(["-i", str(tmp_path / "out.mp4"), "-map", "0:a", "-ac", "1", "-ar", "8000",
                                             "-f", "f32le", "-"]), capture_output=True, check=True).stdout  # fmt: skip
    samples = np.frombuffer(decoded, dtype="<f4")
    assert samples.size / 8000 == pytest.approx(8.0, abs=0.1)
    rms = [float(np.sqrt(np.mean(samples[i * 4000 : (i + 1) * 4000] ** 2))) for i in range(16)]
    assert rms[0] < 0.6 * rms[6] and rms[-1] < 0.6 * rms[6]  # faded in and out
    assert min(rms[4:12]) > 0.5 * max(rms[4:12])  # the 1.5 s track keeps playing (looped)


# -- scoring a stitched video -----------------------------------------------------------------


def test_timeline_spans_follow_the_stitcher_with_crossfades(tmp_path: Path) -> None:
    renderer = PreviewRenderer()
    clips = []
    for i, frames in enumerate((8, 12, 8)):
        spec = ClipSpec(index=i, prompt="p", caption="", emotion="joy", seed=i, width=64, height=36,
                        num_frames=frames, fps=4)  # fmt: skip
        clips.append(renderer.render_clip(spec, tmp_path / f"c{i}.mp4"))
    spans = timeline_spans(clips, crossfade=0.5)
    assert spans == [(0.0, 2.0), (1.5, 4.5), (4.0, 6.0)]
    stitched = stitch_clips([c.path for c in clips], tmp_path / "s.mp4", crossfade=0.5)
    assert stitched.duration == pytest.approx(spans[-1][1], abs=0.02)


def test_score_video_one_cue_per_scene_inside_its_span_and_the_narration_placed(tmp_path: Path) -> None:
    video = _silent_video(tmp_path)
    spoken = EspeakSynth().speak(KO_SCENES[1], "ko", tmp_path / "n1.wav")
    scenes = [SceneSound(KO_SCENES[0], (0.0, 4.0), None), SceneSound(KO_SCENES[1], (4.0, 8.0), spoken.path)]
    streams = score_video(video, tmp_path / "out.mp4", scenes, music=ambient_tone("joy"), language="ko",
                          srt_path=tmp_path / "out.srt", vtt_path=tmp_path / "out.vtt")  # fmt: skip
    assert {s.kind for s in streams} == {"video", "audio", "subtitle"}
    srt = (tmp_path / "out.srt").read_text(encoding="utf-8")
    assert srt.count(" --> ") == 2 and "00:00:04,000 --> 00:00:08,000" in srt
    # the first scene is not narrated: only the music plays there; the second scene speaks
    quiet = _band_level(tmp_path / "out.mp4", "highpass=f=1200", 0.5, 3.5)
    voiced = _band_level(tmp_path / "out.mp4", "highpass=f=1200", 4.5, 6.5)
    assert voiced > quiet + 10, (quiet, voiced)


def test_hold_last_frame_lengthens_a_clip_stream_compatibly(tmp_path: Path) -> None:
    spec = ClipSpec(index=0, prompt="p", caption="", emotion="joy", seed=0, width=64, height=36, num_frames=8, fps=4)
    clip = PreviewRenderer().render_clip(spec, tmp_path / "c.mp4")
    assert frames_to_hold(8, 4.0, 1.5) == 0 and frames_to_hold(8, 4.0, 3.1) == 5
    held = hold_last_frame(clip, tmp_path / "held.mp4", 3.1)
    assert held.frames == 13 and held.duration == pytest.approx(3.25, abs=0.02)
    assert probe_video(held.path).stream_key == probe_video(clip.path).stream_key
    original, longer = _frames(clip.path), _frames(held.path)
    assert np.array_equal(longer[:8], original)  # the clip's own frames are copied, not re-encoded
    assert all(np.abs(f.astype(int) - original[-1].astype(int)).mean() < 3 for f in longer[8:])  # then held


def _frames(path: Path) -> np.ndarray:
    raw = subprocess.run(ffmpeg_command(["-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]),
                         capture_output=True, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 36, 64, 3)
