"""Summary of a built dataset: hours per source and split, voices and speakers, phone coverage, emotion balance."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from app.core.speech import ARPABET_PHONES, SILENCE

from .shards import load_shard, read_manifest


def summarise(directory: str | Path, read_shards: bool = True) -> dict:
    """Figures as a dict (see :func:`format_summary`). ``read_shards`` adds the per-frame emotion balance."""
    m = read_manifest(directory)
    samples = m["samples"]
    hours = defaultdict(float)
    hours_split = defaultdict(float)
    voices = defaultdict(set)
    base_voices = defaultdict(set)
    variants = defaultdict(set)
    phones = Counter()
    phone_seconds = Counter()
    for s in samples:
        d = float(s.get("duration", 0.0))
        hours[(s["source"], bool(s.get("labelled")))] += d / 3600
        hours_split[s.get("split", "train")] += d / 3600
        voices[s["source"]].add(s.get("voice", ""))
        base_voices[bool(s.get("real"))].add(s.get("voice", ""))
        variants[s["source"]].add((s.get("voice", ""), s.get("variant", "")))
        for p, start, end in s.get("phones", []):
            if p != SILENCE:
                phones[p] += 1
                phone_seconds[p] += end - start
    labelled = [s for s in samples if s.get("labelled")]
    emotion_frames = Counter()
    if read_shards:
        for shard in m["shards"]:
            if shard.get("labelled"):
                data = load_shard(directory, shard["file"])
                counts = np.bincount(data["emotion"].astype(np.int64), minlength=len(m["emotions"]))
                emotion_frames.update(dict(enumerate(counts.tolist())))
    return {
        "samples": len(samples), "labelled_samples": len(labelled),
        "hours_total": sum(float(s.get("duration", 0)) for s in samples) / 3600,
        "hours": {f"{src} ({'labelled' if lab else 'unlabelled'})": h for (src, lab), h in sorted(hours.items())},
        "hours_split": dict(hours_split),
        "real_speakers": len(base_voices[True]), "synthetic_voices": len(base_voices[False]),
        "voices_per_source": {k: len(v) for k, v in sorted(voices.items())},
        "variants_per_source": {k: len(v) for k, v in sorted(variants.items())},
        "unlabelled_real_hours": sum(float(s.get("duration", 0)) for s in samples
                                     if s.get("real") and not s.get("labelled")) / 3600,
        "real_hours": sum(float(s.get("duration", 0)) for s in samples if s.get("real")) / 3600,
        "phone_counts": {p: phones.get(p, 0) for p in ARPABET_PHONES if p != SILENCE},
        "phone_minutes": {p: phone_seconds.get(p, 0.0) / 60 for p in ARPABET_PHONES if p != SILENCE},
        "emotion_frames": {m["emotions"][i]: int(n) for i, n in sorted(emotion_frames.items())},
        "sources": m.get("sources", {}), "build": {k: v for k, v in m.get("build", {}).items() if k != "report"},
    }


def format_summary(info: dict) -> str:
    lines = [f"samples: {info['samples']} ({info['labelled_samples']} labelled), "
             f"{info['hours_total']:.2f} h in all"]
    lines.append("hours per source:")
    lines += [f"  {k:<28} {v:7.3f}" for k, v in info["hours"].items()]
    lines.append("hours per split: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(info["hours_split"].items())))
    lines.append(f"real speech: {info['real_hours']:.2f} h from {info['real_speakers']} distinct speakers "
                 f"({info['unlabelled_real_hours']:.2f} h unlabelled)")
    lines.append(f"synthetic voices: {info['synthetic_voices']}; voices per source: "
                 + ", ".join(f"{k} {v}" for k, v in info["voices_per_source"].items()))
    lines.append("voice variants per source: " + ", ".join(f"{k} {v}" for k, v in info["variants_per_source"].items()))
    counts = info["phone_counts"]
    covered = sum(1 for v in counts.values() if v > 0)
    rare = sorted(counts.items(), key=lambda kv: kv[1])[:6]
    lines.append(f"phone coverage: {covered}/{len(counts)} phones; rarest: "
                 + ", ".join(f"{p} {n}" for p, n in rare))
    lines.append("phone counts: " + " ".join(f"{p}:{n}" for p, n in counts.items()))
    total = sum(info["emotion_frames"].values()) or 1
    lines.append("emotion balance (frames): " + ", ".join(f"{k} {v / total:.1%}"
                                                         for k, v in info["emotion_frames"].items()))
    lines.append("licences:")
    lines += [f"  {k}: {v.get('licence', '?')}" for k, v in sorted(info["sources"].items())]
    build = info.get("build") or {}
    if build.get("seconds"):
        labelled_h = sum(v for k, v in info["hours"].items() if "(labelled)" in k)
        speed = labelled_h * 3600 / build["seconds"]
        lines.append(f"build: seed {build.get('seed')}, {build['seconds']:.0f} s, {speed:.2f} s of labelled audio "
                     f"per second of build time, {build.get('failures', 0)} skipped items")
    return "\n".join(lines)
