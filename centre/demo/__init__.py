"""`evaluator centre demo`: a synthetic city built through the real path, for demos, tests, benches and screenshots.

names.py holds the name tables (districts, the kinds of unit of each sector, staff names), city.py plans the
city from a seed (units with their hours, level mix and load, counters, rosters, the devices with skewed
clocks), workdays.py says how busy a day is, day.py simulates one counter's day as its terminal sees it,
terminal.py keeps a simulated terminal's store (the hash chain, reasons, events) and writes its batches,
sender.py enrolls the devices and delivers their signed, gzipped batches through the ingest's own checks,
build.py runs it all, commands.py is the command. With `--manipulate`: manipulate.py reads the option and
chooses who is planted where, scenario.py carries it through the run and writes the truth, cheats.py holds the
dishonest days at a counter, tampered.py the tampered devices, honest.py the honest but unusual units.
"""
