"""The signals, one module per family: hours, services, timing, distribution, devices.

Each signal is a function of a unit's data (centre/integrity/data.py's UnitData) and the settings, or of the
connection and the span for those the stored tables answer directly, and returns findings
(centre/integrity/model.py). The test each one states is in its docstring and in docs/integrity.md.
"""
