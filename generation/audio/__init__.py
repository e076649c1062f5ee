"""Sound for the videos and voice for the diaries.

    base.py       the contracts (`SpeechSynth`, `SpeechRecognizer`), `Speech`, `Transcript`, the errors
    speech.py     the espeak-ng narrator, the default `SpeechSynth`
    vits.py       a neural voice: transformers VITS/MMS from a local folder
    listen.py     reading an uploaded recording: checks (not audio, too long, silence, codec), PCM
    whisper.py    the speech-to-text contract's real adapter: transformers Whisper from a local folder
    music.py      a bed per emotion: the operator's library (manifest) or a generated ambient tone
    mix.py        narration + music, ducked, faded, EBU R128 normalised, muxed with soft subtitles
    subtitles.py  .srt / .vtt cues, one per scene, inside the scene's span
    score.py      what the pipeline calls: subtitles + narration at each scene's start + the mix;
                  and holding a clip's last frame while its narration runs on

Pure like the rest of `generation/`: files and dataclasses in and out, no database.
"""
