"""Prometheus and Grafana with the real tools: Debian's snmp_exporter generator builds the
shipped snmp.yml from our exported MIBs without a warning; the real exporter (on loopback,
started and stopped here) scrapes a live agent and every number it reports equals snmpget's;
every query of the Grafana dashboard names a metric the exporter produced."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.mibs.tree import load_nodes
from test_agent_blackbox import AgentProcess, snmp

pytestmark = pytest.mark.integration

PROM = REPO / "examples" / "prometheus"
DASHBOARD = REPO / "examples" / "grafana" / "iec62379-dashboard.json"
SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _generate_module():
    spec = importlib.util.spec_from_file_location("prom_generate", PROM / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generator_builds_the_shipped_snmp_yml_without_a_warning(tmp_path: Path):
    require_tool("prometheus-snmp-generator")
    written = _generate_module().generate(tmp_path)  # raises on any warning or error
    assert written.read_text() == (PROM / "snmp.yml").read_text(), (
        "run `.venv/bin/python examples/prometheus/generate.py`"
    )


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory):
    """(agent, [(name, labels, value)]) of one scrape of a static-blocks agent."""
    exe = require_tool("prometheus-snmp-exporter")
    agent = AgentProcess(tmp_path_factory.mktemp("prom-state"))
    agent.start()
    port = _free_tcp_port()
    exporter = subprocess.Popen(
        [exe, f"--config.file={PROM / 'snmp.yml'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/snmp?target={agent.v4}&module=iec62379"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    text = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or exporter.poll() is not None:
                    raise
                time.sleep(0.3)
        samples = []
        for line in text.splitlines():
            m = SAMPLE.match(line)
            if m and not line.startswith("#"):
                samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")),
                                float(m.group(3))))
        yield agent, samples
    finally:
        exporter.terminate()
        exporter.wait(timeout=15)
        agent.stop()


def test_exporter_numbers_equal_snmpget(scrape):
    agent, samples = scrape
    nodes = {n.name: n for n in load_nodes()}
    rows = {n.oid: n for n in nodes.values() if n.kind == "row"}
    checked = []
    for metric, labels, value in samples:
        name = metric.removesuffix("_info")  # EnumAsInfo: <column>_info{<column>="name"} 1
        node = nodes.get(name)
        if node is None or node.kind != "column" or node.syntax in ("OctetString", "Bits"):
            continue
        row = rows[node.oid[:-1]]
        index = ".".join(labels[i] for i in row.indices)
        oid = f"{node.dotted}.{index}"
        if name in labels:  # a state set or an info series: the state is a label
            if value == 1:  # the current state: snmpget names the same one
                got = snmp("snmpget", "-v2c", "-c", "public", "-OqvUn", agent.v4, oid).stdout
                shown = got.strip().strip('"').lstrip(".")
                if labels[name].startswith("0x"):  # octets, as the exporter shows them
                    shown = "0x" + shown.replace(" ", "")
                assert shown == labels[name], (name, labels, got)
                checked.append(name)
            continue
        got = snmp("snmpget", "-v2c", "-c", "public", "-On", "-OqvteU", agent.v4, oid).stdout
        assert float(got.strip()) == value, (name, labels, got)
        checked.append(name)
    assert {"rxPointExtDelayFactor", "rxPointExtDatagrams", "rxPointTSDF", "temperatureTrend",
            "vMtVideoBitRate", "nMtPortNumber", "vMtVideoStatus", "temperatureStatus",
            "nMtNetworkType"} <= set(checked)
    # the text column, as numbers
    mdi = snmp("snmpget", "-v2c", "-c", "public", "-Oqv", agent.v4,
               "1.0.62379.7.1.4.1.1.6.4").stdout.strip().strip('"')
    by_name = {(n, tuple(sorted(lb.items()))): v for n, lb, v in samples}
    df, mlr = (float(x) for x in mdi.split(":"))
    assert by_name[("rxPointMDIDelayFactor", (("rxPointBlockId", "4"),))] == df
    assert by_name[("rxPointMDIMediaLossRate", (("rxPointBlockId", "4"),))] == mlr


def test_enumerations_and_truth_values_are_labels(scrape):
    _, samples = scrape
    states = {(lb.get("vMtVideoStatus"), v) for n, lb, v in samples if n == "vMtVideoStatus"}
    assert states == {("true", 1.0), ("false", 0.0)}
    temps = {lb["temperatureLocation"] for n, lb, _ in samples if n == "temperatureTrend"}
    assert temps == {"CPU package", "air inlet"}
    assert any(n == "nMtNetworkType_info" and lb["nMtNetworkType"] == "ipv4"
               for n, lb, _ in samples)
    # media formats by name (IEC62379-EXT-MIB), as labels; no OID-valued label is left
    (video,) = [lb for n, lb, _ in samples if n == "vMtVideoBitRate"]
    assert (video["vMtExtCodingTypeName"], video["vMtExtSourceFormatName"],
            video["vMtExtAspectRatioName"]) == ("videoH264", "src1920x1080i25", "aspect16x9")
    audio = {lb["aMtAudioComponentNumber"]: lb["aMtExtAudioSignalFormatName"]
             for n, lb, _ in samples if n == "aMtAudioPId"}
    assert audio == {"1": "audioMpeg1", "2": "noAudio"}  # component 2: status false
    assert not any(v.startswith("1.3.6.1.4.1.") for _, lb, _ in samples for v in lb.values())


def test_every_dashboard_query_names_an_exported_metric(scrape):
    _, samples = scrape
    produced = {n for n, _, _ in samples}
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs.append(dash["templating"]["list"][1]["definition"])
    assert len(exprs) >= 6
    functions = {"rate", "label_values", "sum", "by", "instance"}
    for expr in exprs:
        body = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^]]*\]', "", expr)
        names = {w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", body) if w not in functions}
        assert names and names <= produced, (expr, names - produced)
    wanted = {"rxPointMDIDelayFactor", "rxPointMDIMediaLossRate", "rxPointTSDF",
              "vMtVideoBitRate", "temperatureTrend"}
    assert wanted <= {n for e in exprs for n in re.findall(r"\w+", e)}
