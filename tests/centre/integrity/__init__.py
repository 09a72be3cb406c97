"""Tests of centre/integrity: the signals on a crafted city, the analysis, the review."""
