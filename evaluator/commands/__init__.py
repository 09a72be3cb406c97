"""The handlers of the `evaluator` subcommands, one module per job; evaluator.cli declares their arguments.

Each handler takes the parsed arguments and returns the exit code. Heavy
imports (Kivy, the store, the sync client) stay inside the handlers, so that
`evaluator --help` and the light commands start fast.
"""
