"""The citizen's side of the centre (issue #18): pages anyone may open without logging in — the online
questionnaire behind the terminal's QR, the complaint form, the rating receipt, the public results — served by
the centre under its own origin. A face of the centre like the console: the centre's domain modules never
import it (.importlinter), and it imports nothing of the console.

web.py is the plumbing (router, language, texts, error pages, headers); pages/ holds one module per page."""
