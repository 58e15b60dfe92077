"""Gammatone filterbank as AMT's auditoryfilterbank/gammatone build it."""
