"""The report to the provincial 好差评 platform (issue #20): every counted rating as the province's record,
checked before it leaves, signed, sent exactly once, with the province's answer kept (docs/province-report.md).

- mapping.py: the mapping (field names, channel/level/reason code tables, unrated and per-case policy, time
  format, field limits, how records travel) as a frozen model loaded from YAML; mappings/default.yaml ships one
- records.py: the public face of making records: `Record`, `RecordState` (model.py), `make_records`
  (making.py: new records written to province_records idempotently, by progress marks) and `preview`
  (preview.py: the same records made for a span without writing, the dry run)
- build.py: one rating or unrated request → its record's fields and state; cases.py: a case's earlier records
  (its evaluation number); scan.py: the chunked reads, the inserts, the progress marks
- rules.py: the checks a record passes before upload, each a named rule with words for what is wrong
- remake.py: invalid records made again once their cause is mended
- check.py: `evaluator centre province check`, the dry run over a span of the city's days
- commands.py: the `evaluator centre province …` subcommands (check, records, remake; push_commands.py's push
  and receiver hook in)
- upload.py, settings.py, signing.py, push.py, push_commands.py, status.py, receiver/: how records travel,
  the upload worker and the reference receiver
"""
