"""AgentX (RFC 2741): the agent as a subagent of a master such as net-snmp's snmpd.

- `pdu`: PDU encoding and decoding, framing on a stream, both byte orders;
- `requests`: the master's Get/GetNext/GetBulk and SET phases answered from the instrumentation;
- `session`: the protocol state machine of one session, without I/O;
- `client`: the connection (unix or TCP) in a thread of its own, reconnecting with back-off;
  notifications;
- `address`: ``unix:PATH`` / ``tcp:HOST:PORT``.
"""
