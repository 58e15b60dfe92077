"""Modulation filterbanks (AMT modfilterbank / jepsen2008; King2019)."""
