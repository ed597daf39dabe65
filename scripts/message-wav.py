"""Writes public/message.wav: a short, soft two-tone chime (the new-message sound).

Run `python3 scripts/message-wav.py` from the repository root; the output is committed.
"""
import math
import struct
import wave

RATE = 16_000
TONES = [(880.0, 0.0, 0.30), (1320.0, 0.14, 0.36)]  # (Hz, start s, length s)
LENGTH = 0.5
VOLUME = 0.22

samples = []
for n in range(int(RATE * LENGTH)):
    t = n / RATE
    value = 0.0
    for freq, start, length in TONES:
        local = t - start
        if 0 <= local < length:
            attack = min(1.0, local / 0.01)
            decay = math.exp(-local * 9)
            value += math.sin(2 * math.pi * freq * local) * attack * decay
    samples.append(int(max(-1.0, min(1.0, value * VOLUME)) * 32767))

with wave.open("public/message.wav", "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(RATE)
    out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
