"""Avro serde with Herald's two framings, told apart by their magic bytes.

* Avro single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint): the default. The writer
  schema is found by fingerprint among every version committed in ``schemas/`` and resolved onto
  the reader's schema.
* Confluent wire format (``00`` + 4-byte schema id) when a schema registry client is given. The
  5-byte header is parsed here and schemas are cached by id: confluent-kafka's AvroDeserializer
  is several times slower per message.

Decoding is every consumer's hottest step. A record written with the reader's own schema (the common
case) is decoded by cavro (a Cython Avro codec), about twice as fast as fastavro
(docs/decisions/0036-hot-path-shortcuts.md), with identical results (``tests/unit/streams/test_serde.py``
compares them). Everything else (encoding, schema resolution, fingerprints) stays with fastavro.
"""

from __future__ import annotations

import io
import json
import re
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cavro
import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from streams.errors import DecodeError

AvroSchema = dict[str, Any]  # a schema as JSON (``raw``) or as fastavro parsed it (``parsed``)
Datum = dict[str, Any]  # one record's fields

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
# Decoded as fastavro decodes (records as dicts), except uuid logical types, which stay strings: cavro's
# uuid.UUID costs more than uuid.UUID(s) (docs/decisions/0021-uuid-fields-as-strings.md), and every
# from_avro (and the persister's row_from_avro) takes either and converts (or refuses a malformed one) itself.
_CAVRO_OPTIONS = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True, return_uuid_object=False)
CONFLUENT_MAGIC = b"\x00"
_FILE_NAME = re.compile(r"^(?P<stem>[a-z_]+)\.v(?P<version>\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    """One released schema file."""

    name: str  # full name, e.g. emr.herald.activity.ActivityEvent
    version: int
    path: str
    raw: AvroSchema
    parsed: AvroSchema
    fingerprint: bytes  # 8 bytes, little-endian, as single-object encoding writes it


def _fingerprint(parsed: AvroSchema) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def load_schema_file(path: str, version: int) -> SchemaVersion:
    """Parses one ``.avsc``; a missing namespace or doc is refused."""
    raw = json.loads(open(path, encoding="utf-8").read())
    if not raw.get("namespace") or not raw.get("doc"):
        raise ValueError(f"{path}: every schema needs a namespace and a doc")
    # fastavro types parse_schema as any schema shape; a record schema's is a dict. Hinted: fastavro
    # skips re-parsing it on every call.
    parsed: AvroSchema = fastavro.parse_schema(raw)  # type: ignore[assignment]
    name = f"{raw['namespace']}.{raw['name']}"
    return SchemaVersion(name, version, path, raw, parsed, _fingerprint(parsed))


def avro_string(value: str) -> bytes:
    """Avro's binary form of a string: the UTF-8 length as a zig-zag varint, then the UTF-8 bytes."""
    data = value.encode()
    n = len(data) << 1
    if n < 0x80:  # shorter than 64 bytes: a one-byte length
        return bytes((n,)) + data
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + data


class SchemaStore:
    """Every released schema version in a folder (default: the ``schemas`` package)."""

    def __init__(self, directory: str | None = None) -> None:
        folder = Path(directory) if directory else Path(str(resources.files("schemas")))
        self._versions: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for entry in sorted(folder.iterdir()):
            match = _FILE_NAME.match(entry.name)
            if match:
                self._add(load_schema_file(str(entry), int(match["version"])))

    def _add(self, schema: SchemaVersion) -> None:
        self._versions.setdefault(schema.name, []).append(schema)
        self._versions[schema.name].sort(key=lambda s: s.version)
        self._by_fingerprint[schema.fingerprint] = schema

    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, name: str) -> list[SchemaVersion]:
        return list(self._versions[name])

    def latest(self, name: str) -> SchemaVersion:
        try:
            return self._versions[name][-1]
        except KeyError:
            raise KeyError(f"no schema named {name}; known: {self.names()}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fp)


class AvroSerde:
    """Encodes with the latest version of one schema and decodes any framing onto it.

    ``registry`` is a confluent-kafka ``SchemaRegistryClient`` (``mock://`` in tests); with it,
    ``encode`` writes the Confluent framing under ``subject``; without it, single-object encoding.
    """

    def __init__(self, name: str, store: SchemaStore, *, registry: Any = None, subject: str | None = None) -> None:
        self.reader = store.latest(name)
        self._store = store
        self._registry = registry
        self._subject = subject or f"{name}-value"
        self._writer_id: int | None = None
        self._by_id: dict[int, AvroSchema] = {}
        self._header = SINGLE_OBJECT_MAGIC + self.reader.fingerprint
        self._fast = cavro.Schema(self.reader.raw, options=_CAVRO_OPTIONS, parse_json=False)

    def encode(self, datum: Datum) -> bytes:
        """Serializes ``datum`` with the reader (latest) schema; raises ValueError on a bad datum."""
        buf = io.BytesIO()
        buf.write(self._registry_header() if self._registry is not None else self._header)
        fastavro.schemaless_writer(buf, self.reader.parsed, datum)
        return buf.getvalue()

    def encode_with_heads(self, datum: Datum, heads: list[tuple[str, ...]]) -> list[bytes]:
        """Records equal to ``datum`` except for their leading string fields, which take each tuple of
        ``heads`` in turn (each tuple as long as the run of leading fields it replaces).

        Avro writes a record's fields in order, so such records share every byte after the head:
        fastavro encodes ``datum`` once (validating it), and each record is the framing, its head
        strings (zig-zag length + UTF-8, ``avro_string``) and that shared tail. The fan-out writes
        10,000 push requests of one announcement that differ only in (notification_id, user_id), each
        a small fraction of a fastavro encoding (docs/decisions/0019-push-requests-encoded-once.md).
        Raises ValueError if a head field is not a string in the schema."""
        if not heads:
            return []
        size = len(heads[0])
        names = self._string_head(size)
        whole = self.encode(datum)
        framing = len(CONFLUENT_MAGIC) + 4 if self._registry is not None else len(self._header)
        own = b"".join(avro_string(str(datum[name])) for name in names)
        if whole[framing : framing + len(own)] != own:
            raise ValueError(f"{names} of the datum did not encode as strings")
        header, tail = whole[:framing], whole[framing + len(own) :]
        return [header + b"".join([avro_string(value) for value in head]) + tail for head in heads]

    def _string_head(self, size: int) -> tuple[str, ...]:
        fields = self.reader.raw["fields"][:size]
        kinds = [f["type"]["type"] if isinstance(f["type"], dict) else f["type"] for f in fields]
        if size < 1 or len(fields) < size or any(kind != "string" for kind in kinds):
            raise ValueError(f"the first {size} fields of {self.reader.name} are not all strings: {kinds}")
        return tuple(f["name"] for f in fields)

    def decode(self, data: bytes | None) -> Datum:
        """Reads one framed record onto the reader schema; raises DecodeError with the reason."""
        if not data:
            raise DecodeError("empty value")
        try:
            if data[:10] == self._header:  # the common case: written with the reader's own schema
                return self._fast.binary_decode(data[10:])  # type: ignore[no-any-return]  # cavro is untyped
            writer, body_at = self._writer_of(data)
            if writer is self.reader.parsed:
                return self._fast.binary_decode(data[body_at:])  # type: ignore[no-any-return]  # cavro is untyped
            # fastavro types a datum as any Avro value; a record schema reads as a dict.
            return fastavro.schemaless_reader(io.BytesIO(data[body_at:]), writer, self.reader.parsed)  # type: ignore[return-value]
        except DecodeError:
            raise
        except Exception as exc:  # the codecs raise many types on corrupt bodies
            raise DecodeError(f"corrupt Avro body: {type(exc).__name__}: {exc}") from exc

    def _writer_of(self, data: bytes) -> tuple[AvroSchema, int]:
        if data[:2] == SINGLE_OBJECT_MAGIC:
            schema = self._store.by_fingerprint(data[2:10])
            if schema is None:
                raise DecodeError(f"unknown schema fingerprint {data[2:10].hex()}")
            return schema.parsed, 10
        if data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
            return self._schema_by_id(struct.unpack(">I", data[1:5])[0]), 5
        raise DecodeError(f"unknown framing (first bytes {data[:2].hex()})")

    def _schema_by_id(self, schema_id: int) -> AvroSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        if self._registry is None:
            raise DecodeError(f"Confluent-framed record (schema id {schema_id}) but no schema registry is configured")
        try:
            schema_str = self._registry.get_schema(schema_id).schema_str
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} not found in the registry: {exc}") from exc
        parsed: AvroSchema = fastavro.parse_schema(json.loads(schema_str))  # type: ignore[assignment]  # as above
        if _fingerprint(parsed) == self.reader.fingerprint:
            parsed = self.reader.parsed
        self._by_id[schema_id] = parsed
        return parsed

    def _registry_header(self) -> bytes:
        if self._writer_id is None:
            from confluent_kafka.schema_registry import Schema

            schema = Schema(json.dumps(self.reader.raw), "AVRO")
            self._writer_id = self._registry.register_schema(self._subject, schema)
            self._by_id[self._writer_id] = self.reader.parsed
        return CONFLUENT_MAGIC + struct.pack(">I", self._writer_id)


def registry_client(url: str | None) -> Any:
    """A schema registry client for ``url`` (``mock://…`` works in-process), or None."""
    if not url:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient

    if url.startswith("mock://"):
        return SchemaRegistryClient.new_client({"url": url})
    return SchemaRegistryClient({"url": url})
