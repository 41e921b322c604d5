"""DVB-MGTR101290-MIB as reconstructed in mibs/ against the digest of ETSI TS 102 032
(../shared/spec/tr101290-mib.md): the OIDs, index orders, access and the quirks kept on the wire;
and smilint's findings, every one of them the published module's own."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import require_tool
from iec62379.mibs import paths
from iec62379.mibs.tree import load_nodes

MODULE = "DVB-MGTR101290-MIB"
SOURCE = paths.source_dir() / f"{MODULE}.mib"
TR = "1.3.6.1.4.1.2696.3.2"


@pytest.fixture(scope="module")
def nodes():
    return {n.name: n for n in load_nodes((MODULE,))}


@pytest.mark.parametrize("name,oid", [
    ("tr101290", TR),
    ("controlNow", f"{TR}.1.1.1"),
    ("controlEventPersistence", f"{TR}.1.1.2"),
    ("controlRFSystemTable", f"{TR}.1.1.3"),
    ("controlSynchronizationTable", f"{TR}.1.1.4"),
    ("testFailTrap", f"{TR}.1.2.0.1"),
    ("measurementFailTrap", f"{TR}.1.2.0.2"),
    ("measurementUnknownTrap", f"{TR}.1.2.0.3"),
    ("trapControlTable", f"{TR}.1.2.1"),
    ("trapInput", f"{TR}.1.2.2"),
    ("capabilityMIBRevision", f"{TR}.1.3.1"),
    ("capabilityTSGroup", f"{TR}.1.3.5.1"),
    ("capabilityTSTable", f"{TR}.1.3.5.2"),
    ("capabilityTerrestrialTable", f"{TR}.1.3.9.2"),
    ("tsTestsSummaryTable", f"{TR}.1.5.2.2"),
    ("tsTestsPIDTable", f"{TR}.1.5.2.3"),
    ("tsTestsPreferencesTable", f"{TR}.1.5.2.100.1"),
    ("tsTestsPreferencesPIDTable", f"{TR}.1.5.2.100.2"),
    ("tsTestsSummaryState", f"{TR}.1.5.2.2.1.3"),
    ("tsTestsPIDState", f"{TR}.1.5.2.3.1.5"),
    ("tsTestsPrefPCRIntervalMax", f"{TR}.1.5.2.100.1.1.6"),
    ("tsTestsPrefTDTIntervalMin", f"{TR}.1.5.2.100.1.1.33"),
    ("trapControlRateStatus", f"{TR}.1.2.1.1.5"),
    ("trapControlFailureSummary", f"{TR}.1.2.1.1.7"),
    ("complianceTransportStream", f"{TR}.3.1.1"),
    ("groupTransportStream", f"{TR}.3.2.5"),
])
def test_oids_are_the_digests(nodes, name, oid):
    assert nodes[name].dotted == oid


def test_index_orders_are_the_mibs(nodes):
    assert nodes["tsTestsSummaryEntry"].indices == ("tsTestsSummaryTestNumber",
                                                    "tsTestsSummaryInputNumber")
    assert nodes["tsTestsPIDEntry"].indices == ("tsTestsPIDPID", "tsTestsPIDTestNumber",
                                                "tsTestsPIDInputNumber")
    assert nodes["tsTestsPreferencesPIDEntry"].indices == ("tsTestsPrefPIDInputNumber",
                                                           "tsTestsPrefPIDPID")
    assert nodes["capabilityTSEntry"].indices == ("capabilityTSOID",)
    assert nodes["trapControlEntry"].indices == ("trapControlInputNumber",)


def test_access_and_quirks_are_kept(nodes):
    access = {n: nodes[n].access for n in (
        "trapControlOID", "trapControlGenerationTime", "trapControlMeasurementValue",
        "trapControlFailureSummary", "trapInput", "tsTestsPIDEnable", "tsTestsSummaryEnable",
        "tsTestsPrefPIDReferredIntervalMax", "controlEventPersistence")}
    assert access == {
        "trapControlOID": "accessible-for-notify", "trapControlGenerationTime":
        "accessible-for-notify", "trapControlMeasurementValue": "accessible-for-notify",
        "trapControlFailureSummary": "read-only", "trapInput": "accessible-for-notify",
        "tsTestsPIDEnable": "read-create", "tsTestsSummaryEnable": "read-write",
        "tsTestsPrefPIDReferredIntervalMax": "read-write",
        "controlEventPersistence": "read-write"}
    assert nodes["tsTestsPrefReferredIntervalMax"].units == "s"
    assert nodes["tsTestsPrefPCRIntervalMax"].units == "second"
    prefs = [n for n in nodes.values() if n.kind == "column"
             and n.oid[:-1] == nodes["tsTestsPreferencesEntry"].oid]
    assert len(prefs) == 33


def object_text(name: str) -> str:
    text = SOURCE.read_text()
    m = re.search(rf"^{name} OBJECT-TYPE\n(.*?)::=", text, re.S | re.M)
    assert m, name
    return m.group(1)


def test_defvals_are_the_mibs():
    assert 'DEFVAL      { "500E-9" }' in object_text("tsTestsPrefPCRInaccuracyMax")
    assert 'DEFVAL      { "2" }' in object_text("controlEventPersistence")
    assert "DEFVAL      { { testEnable } }" in object_text("tsTestsSummaryEnable")
    assert "DEFVAL      { active }" in object_text("tsTestsPIDRowStatus")
    assert "DEFVAL      { false }" in object_text("tsTestsPIDCounterReset")
    # no DEFVAL in the published module
    assert "DEFVAL" not in object_text("tsTestsSummaryCounterReset")
    assert "DEFVAL" not in object_text("tsTestsPrefPIDRowStatus")
    assert "DEFVAL" not in object_text("trapControlRateStatus")


#: smilint -l 6's findings, all the published module's own: its MODULE-IDENTITY follows the
#: dvb and mg nodes and it has no REVISION; InputNumber and PIDPlusOne are ranged INTEGERs;
#: the capability tables are indexed by an OBJECT IDENTIFIER without a size; PollingInterval
#: has no DISPLAY-HINT.
EXPECTED_FINDINGS = Counter({
    "module-identity-not-first": 1,
    "revision-missing": 1,
    "integer-misuse": 2,
    "index-element-no-size": 5,
    "index-exceeds-too-large": 5,
    "type-without-format": 1,
})


def test_smilint_finds_only_the_originals_findings():
    require_tool("smilint")
    from iec62379.mibs.lint import run_smilint

    findings = run_smilint([SOURCE])
    assert Counter(f.tag for f in findings) == EXPECTED_FINDINGS, [str(f) for f in findings]


def test_the_default_lint_leaves_the_reconstructed_module_out():
    require_tool("smilint")
    from iec62379.mibs.lint import run_smilint

    assert MODULE in paths.RECONSTRUCTED_MODULES and MODULE in paths.OUR_MODULES
    assert all(MODULE not in f.file for f in run_smilint())
