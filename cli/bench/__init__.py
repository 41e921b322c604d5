"""`iec62379 bench`: the benchmarks, apart from the product packages.

``command`` holds the click commands; each harness is one module (``snmp``: our agent against
snmpd; ``pcap`` and ``capture``: pcap analysis against tshark; ``live``: live receive and
analysis against a bare recvmsg loop; ``ingest``: GET latency while the agent ingests).
A harness may import the agent and the collectors; nothing in them imports a harness.
"""
