"""The reference receiver: the province's side of the upload, for the tests and for a province that wants one.

`evaluator centre province receiver --port P --db FILE --mapping FILE --key-file FILE [--faults SPEC]`

- server.py: the HTTP server (standard library): signature, envelope, answer; the fault script's steps
- store.py: its own SQLite file of the records received, each once (idempotent by record id), and the nonces
- checks.py: each record checked by the same mapping as the centre's (fields, codes, reasons, time, per case)
- faults.py: the `--faults` script (500, slow:N, lost, ok) over successive upload requests
"""
