"""The compiled MIB against the digest's tables: columns, numbers, syntax, access, indices, OIDs."""

from __future__ import annotations

import re

import pytest
from iec62379.mibs.tree import load_nodes
from pyasn1.type.error import ValueConstraintError

TABLE_ROOTS = {
    "nMtBlockTable": (1, 0, 62379, 7, 1, 1, 1),
    "aMtBlockTable": (1, 0, 62379, 7, 1, 2, 1),
    "vMtBlockTable": (1, 0, 62379, 7, 1, 3, 1),
    "rxPointTable": (1, 0, 62379, 7, 1, 4, 1),
    "temperatureTable": (1, 0, 62379, 7, 1, 5, 1),
}
INDICES = {
    "nMtBlockTable": ("nMtBlockId",),
    "aMtBlockTable": ("aMtBlockId", "aMtAudioComponentNumber"),
    "vMtBlockTable": ("vMtBlockId",),
    "rxPointTable": ("rxPointBlockId",),
    "temperatureTable": ("temperatureBlockId", "temperatureLocnNumber"),
}


def digest_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Parse the digest's section 3: for each '### <table> ...' the rows of its markdown table."""
    tables: dict[str, list[dict[str, str]]] = {}
    section = text.split("## 3. The five tables", 1)[1].split("\n## 4.", 1)[0]
    current = None
    header: list[str] = []
    for line in section.splitlines():
        m = re.match(r"^### (\w+)", line)
        if m:
            current = m.group(1)
            tables[current] = []
            header = []
            continue
        if current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "#":
                header = cells
            elif cells[0].isdigit():
                tables[current].append(dict(zip(header, cells, strict=False)))
    return tables


def expected_access(table: str, row: dict[str, str]) -> str:
    if row["column"] in INDICES[table]:
        return "not-accessible"
    access = row.get("access", "read")  # rx and temperature: read-only [inferred in the digest]
    if "index" in access:
        return "not-accessible"
    return "read-write" if "write" in access else "read-only"


@pytest.fixture(scope="module")
def nodes():
    return {n.name: n for n in load_nodes()}


def test_digest_has_five_tables(digest_text):
    tables = digest_tables(digest_text)
    assert sorted(tables) == sorted(TABLE_ROOTS)
    assert [len(tables[t]) for t in TABLE_ROOTS] == [9, 9, 12, 7, 9]


@pytest.mark.parametrize("table", list(TABLE_ROOTS))
def test_columns_match_digest(table, digest_text, nodes):
    rows = digest_tables(digest_text)[table]
    tnode = nodes[table]
    assert tnode.kind == "table" and tnode.oid == TABLE_ROOTS[table]
    entry = [n for n in nodes.values() if n.kind == "row" and n.oid == tnode.oid + (1,)]
    assert len(entry) == 1
    assert entry[0].indices == INDICES[table]
    columns = sorted(
        (n for n in nodes.values() if n.kind == "column" and n.oid[:-1] == entry[0].oid),
        key=lambda n: n.oid,
    )
    assert [c.name for c in columns] == [r["column"] for r in rows]
    for col, row in zip(columns, rows, strict=True):
        assert col.oid[-1] == int(row["#"]), col.name
        syntax = row["syntax"].split()[0]
        assert col.syntax == syntax, f"{col.name}: {col.syntax} != digest {syntax}"
        assert col.access == expected_access(table, row), col.name


def test_port_number_oid_example(nodes):
    # The digest's own example: nMtPortNumber is 1.0.62379.7.1.1.1.1.7.
    assert nodes["nMtPortNumber"].dotted == "1.0.62379.7.1.1.1.1.7"


def test_block_type_roots(nodes):
    for name, arc in [
        ("networkMeasurement", 1),
        ("audioMeasurement", 2),
        ("videoMeasurement", 3),
        ("receiverPointMeasurement", 4),
        ("temperatureMeasurement", 5),
    ]:
        assert nodes[name].oid == (1, 0, 62379, 7, 1, arc)


def test_index_columns_have_ranges_from_one(nodes):
    from iec62379.mibs.tree import mib_builder

    mb = mib_builder()
    mb.load_modules("IEC62379-7-MEASUREMENT-MIB")
    for name in ("nMtBlockId", "aMtBlockId", "vMtBlockId", "rxPointBlockId", "temperatureBlockId"):
        (col,) = mb.import_symbols("IEC62379-7-MEASUREMENT-MIB", name)
        syntax = col.getSyntax()
        with pytest.raises(ValueConstraintError):
            syntax.clone(0)  # block ids used as indices are >= 1
        assert int(syntax.clone(1)) == 1


def test_seed_enumerations(nodes):
    from iec62379.mibs.tree import mib_builder

    mb = mib_builder()
    mb.load_modules("IEC62379-7-MEASUREMENT-MIB")
    expect = {
        "NetworkType": {"ipv4": 1, "ipv6": 2, "asi": 3},
        "TransportType": {"notApplicable": 0, "rtp": 1},
        "AudioFECType": {
            "none": 0, "rfc2733": 1, "rfc5109": 2, "smpte2022Dash1": 3, "smpte2022Dash5": 4,
            "proprietary": 5,
        },
        "TemperatureStatus": {
            "undetermined": 0, "other": 1, "unknown": 2, "ok": 3, "warning": 4, "critical": 5,
            "nonRecoverable": 6,
        },
        "BitRateType": {"unspecified": 0, "vbr": 1, "cbr": 2},
    }
    expect["VideoFECType"] = expect["AudioFECType"]
    for tc, values in expect.items():
        (cls,) = mb.import_symbols("IEC62379-7-MEASUREMENT-MIB", tc)
        assert dict(cls.namedValues.items()) == values, tc


def test_vocabulary_enumerations_are_the_mibs():
    from iec62379.mibs import vocabulary as v
    from iec62379.mibs.tree import mib_builder

    def label(member) -> str:  # IPV4 -> ipv4, NOT_APPLICABLE -> notApplicable
        first, *rest = member.name.lower().split("_")
        return first + "".join(w.capitalize() for w in rest)

    mb = mib_builder()
    mb.load_modules("IEC62379-7-MEASUREMENT-MIB")
    for tc, enum, name in [
        ("NetworkType", v.NetworkType, label),
        ("TransportType", v.TransportType, label),
        ("AudioFECType", v.FecType, lambda m: m.mib_name),
        ("VideoFECType", v.FecType, lambda m: m.mib_name),
        ("BitRateType", v.BitRateType, label),
        ("TemperatureStatus", v.TemperatureStatus, label),
    ]:
        (cls,) = mb.import_symbols("IEC62379-7-MEASUREMENT-MIB", tc)
        assert dict(cls.namedValues.items()) == {name(m): int(m) for m in enum}, tc
    (pct,) = mb.import_symbols("IEC62379-7-MEASUREMENT-MIB", "BufferOcpncyPercent")
    with pytest.raises(ValueConstraintError):
        pct(0)
    with pytest.raises(ValueConstraintError):
        pct(101)
    assert int(pct(100)) == 100
    (locn,) = mb.import_symbols("IEC62379-7-MEASUREMENT-MIB", "TemperatureLocn")
    locn(b"x" * 80)
    with pytest.raises(ValueConstraintError):
        locn(b"x" * 81)


def test_media_format_identities_match_the_vocabulary(nodes):
    from iec62379.mibs import vocabulary as formats

    names = {
        n.name
        for n in nodes.values()
        if n.module == "IEC62379-MEDIA-FORMATS-MIB" and n.kind == "identity"
    }
    vocabulary = {
        f.value
        for enum in (
            formats.AudioFormat, formats.VideoCoding, formats.AspectRatio, formats.SourceFormat
        )
        for f in enum
    }
    groups = {"mfAudioFormats", "mfVideoCodings", "mfVideoSourceFormats", "mfAspectRatios"}
    assert names - groups - {"iec62379FormatsArc"} == vocabulary
    assert nodes["noAudio"].dotted == "1.3.6.1.4.1.32473.62379.1.1"
    assert nodes["unspecifiedAudio"].dotted == "1.3.6.1.4.1.32473.62379.1.2"
