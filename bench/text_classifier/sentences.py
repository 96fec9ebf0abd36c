"""The sentence mix of the text classifier benchmark: KJV verses drawn with a
fixed seed from the whole Bible (Debian's bible-kjv), so lengths follow the
real distribution (about 5 to 90 words, most 15 to 35)."""

import random
import re
import subprocess

REFERENCE = re.compile(r"^\S+\d+:\d+ ")
SEED = 0


def verses(count: int) -> list[str]:
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    every = [line[m.end():].strip() for line in text.splitlines() if (m := REFERENCE.match(line))]
    rng = random.Random(SEED)
    return [rng.choice(every) for _ in range(count)]
