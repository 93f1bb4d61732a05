"""Peak memory of reading one large picture of a digit (``load_digit``), before and after
shrinking it in Pillow's own 8-bit form: NumPy's allocations (tracemalloc) and the process's
peak resident size (ru_maxrss), each picture in a fresh process.

    python benchmarks/picture_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = """
import resource, sys, tracemalloc
from neural_network.data.images import load_digit
tracemalloc.start()
try:
    result = str(load_digit(sys.argv[1]).shape)
except ValueError as error:
    result = str(error)[-60:]
peak = tracemalloc.get_traced_memory()[1]
print(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, result)
"""


def pictures(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image, ImageDraw

    made = {}
    side = 7000
    rgba = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    ImageDraw.Draw(rgba).line([(3000, 2000), (3500, 5000)], fill=(0, 0, 0, 255), width=300)
    made["rgba_png_7000"] = folder / "rgba.png"
    rgba.save(made["rgba_png_7000"], optimize=True)
    grey = Image.new("L", (side, side), 255)
    ImageDraw.Draw(grey).line([(3000, 2000), (3500, 5000)], fill=0, width=300)
    made["jpeg_7000"] = folder / "grey.jpg"
    grey.save(made["jpeg_7000"], quality=90)
    # A JPEG that declares 7000x7000 and holds almost nothing.
    small = Image.fromarray(np.full((8, 8), 200, np.uint8))
    small.save(folder / "tiny.jpg")
    data = bytearray((folder / "tiny.jpg").read_bytes())
    marker = data.index(b"\xff\xc0")
    data[marker + 5 : marker + 9] = side.to_bytes(2, "big") * 2
    made["corrupt_jpeg_7000"] = folder / "corrupt.jpg"
    made["corrupt_jpeg_7000"].write_bytes(bytes(data))
    return made


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, path in pictures(Path(folder)).items():
            out = subprocess.run(
                [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True
            )
            peak, rss_kb, result = out.stdout.split(" ", 2)
            print(
                json.dumps(
                    {
                        "picture": name,
                        "file_bytes": path.stat().st_size,
                        "numpy_peak_mb": round(int(peak) / 2**20, 1),
                        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
                        "result": result.strip(),
                    }
                )
            )


if __name__ == "__main__":
    main()
