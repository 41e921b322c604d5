"""The IEC 62379-7 MIB modules (SMIv2 sources) and their compiled pysnmp form."""
