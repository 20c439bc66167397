#!/usr/bin/env python3
"""Write src-tauri/icons/icon.ico from the PNG icons beside it: an ICO whose entries are the PNGs
themselves (valid since Windows Vista), so the Windows build's icon needs no image tool.
Run again when the PNGs change: python3 packaging/windows/make-ico.py"""
import struct
from pathlib import Path

icons = Path(__file__).resolve().parents[2] / "src-tauri" / "icons"
pngs = [(icons / n).read_bytes() for n in ("32x32.png", "128x128.png", "icon.png")]
out = bytearray(struct.pack("<HHH", 0, 1, len(pngs)))
offset = 6 + 16 * len(pngs)
for png in pngs:
    w, h = struct.unpack(">II", png[16:24])
    # Width and height 0 mean 256 in an ICO directory entry.
    out += struct.pack("<BBBBHHII", w % 256, h % 256, 0, 0, 1, 32, len(png), offset)
    offset += len(png)
for png in pngs:
    out += png
(icons / "icon.ico").write_bytes(bytes(out))
print(f"{icons / 'icon.ico'}: {len(out)} bytes, {len(pngs)} sizes")
