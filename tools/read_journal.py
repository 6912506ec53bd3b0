#!/usr/bin/env python3
"""An independent reader of the Registre journal format, written from Journal/FORMAT.md alone.

It proves the format document is enough to read a journal in another language. Standard library
only, so it reads frames and blocks stored uncompressed (codec 0); for zstd it needs the
`zstandard` module. It checks every CRC32C and chain hash, and prints each event as one JSON line in the
wire shape `registre replay` uses.

    python3 tools/read_journal.py DIR
"""
import hashlib
import json
import os
import struct
import sys
import uuid
from datetime import datetime, timezone

_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Damage(Exception):
    pass


def decode_payload(codec, stored, length):
    if codec == 0:
        return stored
    if codec == 1:
        import zstandard  # optional dependency
        return zstandard.ZstdDecompressor().decompress(stored, max_output_size=length)
    raise Damage(f"unknown codec {codec}")


def timestamp(micros):
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:06d}Z"


def restore(name, offset, payload, first, count):
    """Undoes what a block does to records: zero positions, recorded-at as differences (3.1)."""
    payload = bytearray(payload)
    at, previous = 0, 0
    for k in range(count):
        length, = struct.unpack_from("<I", payload, at)
        if struct.unpack_from("<Q", payload, at + 4)[0] != 0:
            raise Damage(f"{name}@{offset}: a record in a block has a non-zero position")
        struct.pack_into("<Q", payload, at + 4, first + k)
        stored, = struct.unpack_from("<q", payload, at + 36)
        time = stored if k == 0 else (previous + stored + 2**63) % 2**64 - 2**63
        struct.pack_into("<q", payload, at + 36, time)
        previous = time
        at += length + 4
    return bytes(payload)


def frames(name, data, last):
    """Yields (offset, frame bytes) for each frame, taking those of a block (FORMAT.md 3.1) in order."""
    offset = 128
    while offset < len(data):
        if len(data) - offset < 64:
            if last:
                return
            raise Damage(f"{name}@{offset}: truncated frame header")
        magic, stored_len, content_len, codec = struct.unpack_from("<4sIIB", data, offset)
        stored = data[offset + 64: offset + 64 + stored_len]
        crc, = struct.unpack_from("<I", data, offset + 60)
        if magic not in (b"RGFR", b"RGBK") or len(stored) != stored_len or crc != crc32c(stored, crc32c(data[offset:offset + 60])):
            if last:
                return  # preallocated zeros, a torn tail or a write in progress
            raise Damage(f"{name}@{offset}: bad frame")
        if magic == b"RGFR":
            yield offset, data[offset: offset + 64 + stored_len]
        else:
            content = decode_payload(codec, stored, content_len)
            block_first, block_events, block_frames = struct.unpack_from("<QII", data, offset + 16)
            at, seen, events = 0, 0, 0
            while at < len(content):
                inner_magic, inner_len, inner_payload_len, inner_codec = struct.unpack_from("<4sIIB", content, at)
                inner_first, inner_count = struct.unpack_from("<QI", content, at + 16)
                inner = content[at: at + 64 + inner_len]
                inner_crc, = struct.unpack_from("<I", content, at + 60)
                if (inner_magic != b"RGFR" or inner_codec != 0 or inner_len != inner_payload_len or len(inner) != 64 + inner_len
                        or inner_crc != 0 or inner_first != block_first + events):
                    raise Damage(f"{name}@{offset}: bad frame inside the block")
                yield offset, inner[:64] + restore(name, offset, inner[64:], inner_first, inner_count)
                at += 64 + inner_len
                seen += 1
                events += inner_count
            if seen != block_frames or events != block_events or len(content) != content_len:
                raise Damage(f"{name}@{offset}: block header and content disagree")
        offset += 64 + stored_len


def read(directory):
    names = sorted(n for n in os.listdir(directory) if n.endswith(".seg") and len(n) == 24)
    chain = bytes(32)
    position = 0
    for k, name in enumerate(names):
        data = open(os.path.join(directory, name), "rb").read()
        last = k == len(names) - 1
        if len(data) < 128:
            if last:
                return
            raise Damage(f"{name}: short header")
        header = data[:128]
        if header[:8] != b"RGSTRSEG" or struct.unpack_from("<I", header, 124)[0] != crc32c(header[:124]):
            raise Damage(f"{name}: bad segment header")
        if struct.unpack_from("<H", header, 10)[0] > 2:
            raise Damage(f"{name}: needs a newer reader")
        first, = struct.unpack_from("<Q", header, 32)
        if first != position or header[40:72] != chain:
            raise Damage(f"{name}: does not continue the previous segment")
        for offset, frame in frames(name, data, last):
            _, stored_len, payload_len, codec = struct.unpack_from("<4sIIB", frame, 0)
            frame_first, count = struct.unpack_from("<QI", frame, 16)
            payload = decode_payload(codec, frame[64:], payload_len)
            expected = hashlib.sha256(chain + struct.pack("<QII", frame_first, count, payload_len) + payload).digest()
            if frame_first != position or expected != frame[28:60]:
                raise Damage(f"{name}@{offset}: position or chain hash does not follow")
            chain = expected
            at = 0
            for _ in range(count):
                length, = struct.unpack_from("<I", payload, at)
                pos, version = struct.unpack_from("<QQ", payload, at + 4)
                event_id = uuid.UUID(bytes=payload[at + 20: at + 36])
                recorded, flags, ls, lt, lm, ld = struct.unpack_from("<qHHHII", payload, at + 36)
                body = at + 58
                stream = payload[body: body + ls].decode("ascii")
                etype = payload[body + ls: body + ls + lt].decode("ascii")
                metadata = payload[body + ls + lt: body + ls + lt + lm]
                event_data = payload[body + ls + lt + lm: body + ls + lt + lm + ld]
                if pos != position or 58 + ls + lt + lm + ld != length + 4:
                    raise Damage(f"{name}@{offset}: record at position {pos} malformed")
                yield {
                    "position": pos, "stream": stream, "version": version, "id": str(event_id), "type": etype,
                    "recordedAt": timestamp(recorded), "metadata": json.loads(metadata), "data": json.loads(event_data),
                    "endsAppend": bool(flags & 1),
                }
                position += 1
                at += length + 4


if __name__ == "__main__":
    try:
        for event in read(sys.argv[1]):
            print(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    except Damage as damage:
        print(f"damaged: {damage}", file=sys.stderr)
        sys.exit(1)
