"""Low-level binary FBX node records: encoding and decoding.

A binary FBX file is a 27-byte header (magic + uint32 version), a list of node records, a null record
closing the top-level list, and a footer. Each node record (versions below 7500) is

    uint32 end_offset      absolute file offset just past this record
    uint32 num_properties
    uint32 property_bytes  byte length of the property list
    uint8  name_length, name
    properties             one type code byte + payload each
    children               nested records, closed by a 13-byte null record

Property type codes: Y int16, C bool (1 byte), I int32, F float32, D float64, L int64, S string and
R raw bytes (uint32 length + bytes), and arrays f float32, d float64, l int64, i int32, b bool, stored as
uint32 count, uint32 encoding (0 raw, 1 zlib deflate), uint32 byte length, then the data.
Version 7500 and later use 64-bit header fields (25-byte null records); the decoder accepts both.

Python values map to codes as follows when encoding: bool -> C, int -> I (must fit in int32),
np.int64 -> L, np.int16 -> Y, float -> D, np.float32 -> F, str -> S, bytes -> R, and 1-D numpy arrays
by dtype (float32 f, float64 d, int64 l, int32 i, bool b). The decoder returns Python scalars (int,
float, bool, str, bytes) and numpy arrays.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
WRITE_VERSION = 7400
HEADER_SIZE = len(MAGIC) + 4

# The footer that FBX SDK-written files end with: an id block tied to the file's CreationTime, zero
# padding to a 16-byte boundary, the version again, 120 zero bytes and a fixed 16-byte magic. The SDK
# checks the id against the FileId/CreationTime pair at the top of the file, so the writer uses one
# known-consistent (FileId, CreationTime, footer id) triple, as other independent exporters do.
FILE_ID = b"\x28\xb3\x2a\xeb\xb6\x24\xcc\xc2\xbf\xc8\xb0\x2a\xa9\x2b\xfc\xf1"
CREATION_TIME = "1970-01-01 10:00:00:000"
FOOTER_ID = b"\xfa\xbc\xab\x09\xd0\xc8\xd4\x66\xb1\x76\xfb\x83\x1c\xf7\x26\x7e"
FOOTER_MAGIC = b"\xf8\x5a\x8c\x6a\xde\xf5\xd9\x7e\xec\xe9\x0c\xe3\x75\x8f\x29\x0b"

# Arrays whose raw payload is at least this many bytes are zlib-compressed (as the SDK does for big
# arrays); small ones stay raw, where compression would only add overhead.
COMPRESS_MIN_BYTES = 128
ZLIB_LEVEL = 1

_SCALAR_FORMATS = {"Y": "<h", "C": "<?", "I": "<i", "F": "<f", "D": "<d", "L": "<q"}
_ARRAY_DTYPES = {"f": np.dtype("<f4"), "d": np.dtype("<f8"), "l": np.dtype("<i8"), "i": np.dtype("<i4"),
                 "b": np.dtype("u1")}
_DTYPE_CODES = {np.dtype(np.float32): "f", np.dtype(np.float64): "d", np.dtype(np.int64): "l",
                np.dtype(np.int32): "i", np.dtype(np.bool_): "b"}
_HEAD32 = struct.Struct("<IIIB")
_HEAD64 = struct.Struct("<QQQB")
_ARRAY_HEAD = struct.Struct("<III")


class FbxFormatError(ValueError):
    """The data is not a readable binary FBX file (wrong magic, truncated, inconsistent records)."""


@dataclass
class FbxNode:
    """One node record: a name, a list of property values and child nodes."""

    name: str
    props: list = field(default_factory=list)
    children: list[FbxNode] = field(default_factory=list)

    def add(self, name: str, *props, children: list[FbxNode] | None = None) -> FbxNode:
        """Append a child node and return it (for building trees compactly)."""
        node = FbxNode(name, list(props), list(children or []))
        self.children.append(node)
        return node

    def find(self, name: str) -> FbxNode | None:
        """First child called ``name``, or None."""
        for child in self.children:
            if child.name == name:
                return child
        return None

    def find_all(self, name: str) -> list[FbxNode]:
        return [child for child in self.children if child.name == name]


# --------------------------------------------------------------------------------------------- encoding

def _encode_prop(value, out: list[bytes], zcache: dict) -> None:
    if isinstance(value, np.ndarray):
        code = _DTYPE_CODES.get(value.dtype)
        if code is None or value.ndim != 1:
            raise TypeError(f"cannot store a {value.ndim}-D {value.dtype} array in an FBX property")
        raw = np.ascontiguousarray(value, dtype=_ARRAY_DTYPES[code]).tobytes()
        encoding = 0
        if len(raw) >= COMPRESS_MIN_BYTES:
            # Identical arrays (e.g. the KeyTime of every unreduced curve) are compressed once.
            key = (code, raw)
            packed = zcache.get(key)
            if packed is None:
                packed = zlib.compress(raw, ZLIB_LEVEL)
                zcache[key] = packed
            raw, encoding = packed, 1
        out.append(code.encode("ascii") + _ARRAY_HEAD.pack(len(value), encoding, len(raw)) + raw)
        return
    if isinstance(value, (bool, np.bool_)):
        out.append(b"C" + (b"\x01" if value else b"\x00"))
    elif isinstance(value, np.int64):
        out.append(b"L" + struct.pack("<q", int(value)))
    elif isinstance(value, np.int16):
        out.append(b"Y" + struct.pack("<h", int(value)))
    elif isinstance(value, (int, np.int32)):
        if not -(2**31) <= int(value) < 2**31:
            raise OverflowError(f"integer {value} does not fit an FBX int32 property; pass np.int64")
        out.append(b"I" + struct.pack("<i", int(value)))
    elif isinstance(value, np.float32):
        out.append(b"F" + struct.pack("<f", float(value)))
    elif isinstance(value, (float, np.float64)):
        out.append(b"D" + struct.pack("<d", float(value)))
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.append(b"S" + struct.pack("<I", len(data)) + data)
    elif isinstance(value, (bytes, bytearray)):
        out.append(b"R" + struct.pack("<I", len(value)) + bytes(value))
    else:
        raise TypeError(f"unsupported FBX property value {value!r} ({type(value).__name__})")


# Block-type nodes that SDK-written files close with a null record even when they have no children
# (they are written with braces in ASCII FBX).
_ALWAYS_BLOCK = frozenset({"AnimationStack", "AnimationLayer", "Properties70", "PropertyTemplate",
                           "References", "Definitions", "ObjectType", "MetaData"})


def _needs_sentinel(node: FbxNode) -> bool:
    # A record is closed with a null record when it has children, when it has neither children nor
    # properties, and for the block-type nodes above.
    return bool(node.children) or not node.props or node.name in _ALWAYS_BLOCK


def _encode_node(node: FbxNode, offset: int, out: list[bytes], zcache: dict) -> int:
    """Append the bytes of ``node`` (starting at absolute ``offset``) to ``out``; return the end offset."""
    name = node.name.encode("ascii")
    if len(name) > 255:
        raise ValueError(f"FBX node name too long: {node.name!r}")
    props: list[bytes] = []
    for value in node.props:
        _encode_prop(value, props, zcache)
    prop_bytes = b"".join(props)
    head_index = len(out)
    out.append(b"")  # placeholder for the record head, filled in once the end offset is known
    out.append(name)
    out.append(prop_bytes)
    pos = offset + _HEAD32.size + len(name) + len(prop_bytes)
    for child in node.children:
        pos = _encode_node(child, pos, out, zcache)
    if _needs_sentinel(node):
        out.append(b"\x00" * _HEAD32.size)
        pos += _HEAD32.size
    if pos >= 2**32:
        raise ValueError("FBX 7.4 files are limited to 4 GiB")
    out[head_index] = _HEAD32.pack(pos, len(node.props), len(prop_bytes), len(name))
    return pos


def _footer(offset: int) -> bytes:
    parts = [FOOTER_ID, b"\x00" * 4]
    offset += len(FOOTER_ID) + 4
    pad = (-offset) % 16
    parts.append(b"\x00" * (pad or 16))
    parts += [struct.pack("<I", WRITE_VERSION), b"\x00" * 120, FOOTER_MAGIC]
    return b"".join(parts)


def encode_document(nodes: list[FbxNode]) -> bytes:
    """Serialise top-level nodes into a complete binary FBX 7.4 file image."""
    out = [MAGIC, struct.pack("<I", WRITE_VERSION)]
    pos = HEADER_SIZE
    zcache: dict = {}
    for node in nodes:
        pos = _encode_node(node, pos, out, zcache)
    out.append(b"\x00" * _HEAD32.size)
    pos += _HEAD32.size
    out.append(_footer(pos))
    return b"".join(out)


# --------------------------------------------------------------------------------------------- decoding

class _Decoder:
    def __init__(self, data: bytes, version: int):
        self.data = memoryview(data)
        self.size = len(data)
        self.head = _HEAD64 if version >= 7500 else _HEAD32

    def fail(self, pos: int, what: str):
        raise FbxFormatError(f"corrupt FBX data at byte {pos}: {what}")

    def need(self, pos: int, count: int, what: str) -> None:
        if count < 0 or pos + count > self.size:
            self.fail(pos, f"file ends inside {what} (truncated file?)")

    def node_list(self, pos: int, end: int | None, depth: int) -> tuple[list[FbxNode], int]:
        """Read records from ``pos`` until a null record (or ``end``); return nodes and new position."""
        if depth > 64:
            self.fail(pos, "nodes nested too deeply")
        nodes = []
        while True:
            if end is not None and pos >= end:
                return nodes, pos
            self.need(pos, self.head.size, "a node record header")
            end_offset, num_props, props_len, name_len = self.head.unpack_from(self.data, pos)
            if end_offset == 0:  # null record closes the list
                return nodes, pos + self.head.size
            node, pos = self.node(pos, end_offset, num_props, props_len, name_len, depth)
            nodes.append(node)

    def node(self, start: int, end_offset: int, num_props: int, props_len: int, name_len: int,
             depth: int) -> tuple[FbxNode, int]:
        pos = start + self.head.size
        if end_offset <= pos or end_offset > self.size:
            self.fail(start, f"node end offset {end_offset} outside the file")
        self.need(pos, name_len, "a node name")
        name = bytes(self.data[pos:pos + name_len]).decode("ascii", errors="replace")
        pos += name_len
        props_end = pos + props_len
        if props_end > end_offset:
            self.fail(start, f"property list of {name!r} runs past the node end")
        props = []
        for _ in range(num_props):
            value, pos = self.prop(pos, props_end)
            props.append(value)
        if pos != props_end:
            self.fail(pos, f"property list of {name!r} has the wrong length")
        children: list[FbxNode] = []
        if pos < end_offset:
            children, pos = self.node_list(pos, end_offset, depth + 1)
        if pos != end_offset:
            self.fail(pos, f"children of {name!r} do not end at the record end offset {end_offset}")
        return FbxNode(name, props, children), pos

    def prop(self, pos: int, limit: int):
        if pos >= limit:
            self.fail(pos, "more properties announced than stored")
        code = chr(self.data[pos])
        pos += 1
        fmt = _SCALAR_FORMATS.get(code)
        if fmt is not None:
            size = struct.calcsize(fmt)
            self.need(pos, size, f"a {code} property")
            (value,) = struct.unpack_from(fmt, self.data, pos)
            if code == "C":
                value = bool(value)
            return value, pos + size
        if code in "SR":
            self.need(pos, 4, "a string length")
            (length,) = struct.unpack_from("<I", self.data, pos)
            pos += 4
            if pos + length > limit:
                self.fail(pos, "string property runs past its node")
            raw = bytes(self.data[pos:pos + length])
            return (raw.decode("utf-8", errors="replace") if code == "S" else raw), pos + length
        dtype = _ARRAY_DTYPES.get(code)
        if dtype is None:
            self.fail(pos - 1, f"unknown property type code {code!r}")
        self.need(pos, _ARRAY_HEAD.size, "an array header")
        count, encoding, byte_len = _ARRAY_HEAD.unpack_from(self.data, pos)
        pos += _ARRAY_HEAD.size
        if pos + byte_len > limit:
            self.fail(pos, "array property runs past its node")
        raw = bytes(self.data[pos:pos + byte_len])
        if encoding == 1:
            try:
                raw = zlib.decompress(raw)
            except zlib.error as exc:
                self.fail(pos, f"compressed array cannot be inflated ({exc})")
        elif encoding != 0:
            self.fail(pos, f"unknown array encoding {encoding}")
        if len(raw) != count * dtype.itemsize:
            self.fail(pos, f"array holds {len(raw)} bytes, expected {count} x {dtype.itemsize}")
        array = np.frombuffer(raw, dtype=dtype).copy()
        if code == "b":
            array = array.astype(bool)
        return array, pos + byte_len


def decode_document(data: bytes) -> tuple[int, list[FbxNode]]:
    """Parse a binary FBX file image into (version, top-level nodes). Raises FbxFormatError."""
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC[:18]):
        if data[:20].lstrip().startswith((b";", b"FBXHeaderExtension")):
            raise FbxFormatError("this is an ASCII FBX file; only binary FBX is supported")
        raise FbxFormatError("not a binary FBX file (missing 'Kaydara FBX Binary' header)")
    if not data.startswith(MAGIC):
        raise FbxFormatError("damaged binary FBX header")
    (version,) = struct.unpack_from("<I", data, len(MAGIC))
    if not 6000 <= version < 10000:
        raise FbxFormatError(f"unsupported FBX version {version}")
    decoder = _Decoder(data, version)
    nodes, _ = decoder.node_list(HEADER_SIZE, None, 0)
    return version, nodes
