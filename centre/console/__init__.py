"""The city's console (`/console`): the office's, the districts' and the unit managers' web pages.

Server-rendered (Jinja2, htmx for partial updates, Apache ECharts for charts, both served by the centre
itself from centre/console/static/vendor: an office intranet has no CDN). The layers, top down:

- pages/: one module per page, each a route that asks the centre's own modules (indicators, reports,
  registry) for its figures and hands them to its template; no SQL and no arithmetic in a template;
- web.py: the router, the templates, the signed-in viewer, CSRF, the error pages;
- accounts.py, sessions.py, audit.py, roles.py, texts.py: who may do what, and the words in two languages.

Nothing in the rest of the centre imports the console but the app that mounts it (centre/api/app.py).
"""
