"""The registry: the city's districts, sectors, service units, their counters, and where each device stands.

model.py holds what a unit or counter must be (ids, names a terminal can show, zones, hours: hours.py),
sectors.py the sector list (shipped in sectors.yaml, extended by the office), queries.py reads and writes
the tables, placements.py where a device stood when, sheet.py and importer.py the office's spreadsheet,
commands.py the `evaluator centre unit|counter|device …` commands; staff.py each unit's roster, staff_file.py
the office's roster file, staff_commands.py `evaluator centre staff …` (and `roster`).
"""
