"""Build small Outlook .msg files for tests: a minimal OLE compound-file (CFB, version 3) writer.

Written by hand because no kept Python library writes compound files (olefile only reads them, or
overwrites streams of the same size). Enough of [MS-CFB] for a reader: 512-byte sectors, a mini
stream for streams under 4,096 bytes, one FAT, no DIFAT sectors (files under about 7 MB).
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREE, END, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def msg_file(properties: dict[int, str | bytes], submit_time: datetime | None = None,
             attachments: list[dict] = (), embedded: list[dict] = ()) -> bytes:
    """The bytes of a .msg: string properties by MAPI id (stored as PT_UNICODE), bytes as PT_BINARY;
    attachments as {filename, mime, data}; embedded messages (forwarded .msg) as msg_tree() keyword dicts."""
    return write_compound_file(msg_tree(properties, submit_time, attachments, embedded, top_level=True))


def msg_tree(properties, submit_time=None, attachments=(), embedded=(), top_level=False) -> dict:
    tree: dict = {}
    fixed = b""
    for prop_id, value in properties.items():
        if isinstance(value, str):
            tree[f"__substg1.0_{prop_id:04X}001F"] = value.encode("utf-16-le")
        else:
            tree[f"__substg1.0_{prop_id:04X}0102"] = value
    if submit_time is not None:
        ticks = int((submit_time - datetime(1601, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10_000_000)
        fixed += struct.pack("<IIQ", (0x0039 << 16) | 0x0040, 0, ticks)
    count = len(attachments) + len(embedded)
    header = struct.pack("<8xIIII", 0, count, 0, count) + (b"\0" * 8 if top_level else b"")
    tree["__properties_version1.0"] = header + fixed
    for number, attachment in enumerate(attachments):
        tree[f"__attach_version1.0_#{number:08X}"] = {
            "__substg1.0_3707001F": attachment["filename"].encode("utf-16-le"),
            "__substg1.0_370E001F": attachment["mime"].encode("utf-16-le"),
            "__substg1.0_37010102": attachment["data"],
            "__properties_version1.0": b"\0" * 8,
        }
    for number, message in enumerate(embedded, start=len(attachments)):
        tree[f"__attach_version1.0_#{number:08X}"] = {
            "__substg1.0_3701000D": msg_tree(**message),
            "__properties_version1.0": b"\0" * 8,
        }
    return tree


def write_compound_file(tree: dict) -> bytes:
    """A compound file holding `tree`: names to bytes (streams) or to dicts (storages)."""
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": []}]

    def add(node: dict, parent: int) -> None:
        for name, value in node.items():
            index = len(entries)
            entries.append({"name": name, "type": 1 if isinstance(value, dict) else 2, "children": [],
                            "data": None if isinstance(value, dict) else value})
            entries[parent]["children"].append(index)
            if isinstance(value, dict):
                add(value, index)

    add(tree, 0)
    mini_stream = bytearray()
    mini_fat: list[int] = []
    big_streams = []
    for entry in entries:
        data = entry.get("data")
        if data is None:
            continue
        if len(data) < MINI_CUTOFF:
            entry["start"], entry["size"] = (len(mini_fat) if data else END), len(data)
            sectors = -(-len(data) // MINI_SECTOR)
            mini_fat += [len(mini_fat) + i + 1 for i in range(sectors - 1)] + ([END] if sectors else [])
            mini_stream += data.ljust(sectors * MINI_SECTOR, b"\0")
        else:
            big_streams.append(entry)
    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        count = max(1, -(-len(data) // SECTOR))
        start = len(sectors)
        for i in range(count):
            sectors.append(data[i * SECTOR:(i + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(start + i + 1 if i < count - 1 else END)
        return start

    for entry in big_streams:
        entry["start"], entry["size"] = place(entry["data"]), len(entry["data"])
    root_start = place(bytes(mini_stream)) if mini_stream else END
    entries[0]["start"], entries[0]["size"] = root_start, len(mini_stream)
    mini_fat_start = place(struct.pack(f"<{len(mini_fat)}I", *mini_fat)) if mini_fat else END
    mini_fat_sectors = -(-len(mini_fat) * 4 // SECTOR)
    for entry in entries:  # siblings as a chain sorted the CFB way: shorter names first, then upper-case
        kids = sorted(entry["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        entry["child"] = kids[0] if kids else NO_STREAM
        for left, right in zip(kids, kids[1:] + [None]):
            entries[left]["right"] = right if right is not None else NO_STREAM
    directory = b"".join(_directory_entry(entry) for entry in entries)
    directory += b"".join(_directory_entry(None) for _ in range((-len(entries)) % 4))
    directory_start = place(directory)
    fat_sectors = 1
    while (len(sectors) + fat_sectors) > fat_sectors * (SECTOR // 4):
        fat_sectors += 1
    assert fat_sectors <= 109, "fixture too large for a writer without DIFAT sectors"
    fat_start = len(sectors)
    fat += [FAT_SECTOR] * fat_sectors
    fat += [FREE] * (fat_sectors * (SECTOR // 4) - len(fat))
    for i in range(fat_sectors):
        sectors.append(struct.pack("<128I", *fat[i * 128:(i + 1) * 128]))
    difat = [fat_start + i for i in range(fat_sectors)] + [FREE] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("D0CF11E0A1B11AE1"), b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6,
        b"\0" * 6, 0, fat_sectors, directory_start, 0, MINI_CUTOFF, mini_fat_start, mini_fat_sectors, END, 0,
    ) + struct.pack("<109I", *difat)
    return header + b"".join(sectors)


def _directory_entry(entry: dict | None) -> bytes:
    if entry is None:
        return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NO_STREAM, NO_STREAM, NO_STREAM, b"", 0, 0, 0, 0, 0)
    name = entry["name"].encode("utf-16-le") + b"\0\0"
    start = entry.get("start", 0) if entry["type"] != 1 else 0
    return struct.pack("<64sHBBIII16sIQQIQ", name, len(name), entry["type"], 1, NO_STREAM,
                       entry.get("right", NO_STREAM), entry["child"], b"\0" * 16, 0, 0, 0, start, entry.get("size", 0))
