"""One distribution for the terminal and the centre: kiosk, drivers, contract, sync, centre, evaluator.

The console script ``evaluator`` is the single entry point for citizens'
terminals, technicians and the development tools alike.
"""
import os
import time
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPyWithDate(build_py):
    """Also writes kiosk/_build.py: the day this release was built (UTC), below which the terminal's wall
    clock cannot be right (kiosk.BUILD_DATE). SOURCE_DATE_EPOCH, when set, gives the day instead, for
    reproducible builds."""

    def run(self):
        super().run()
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
        target = Path(self.build_lib) / "kiosk" / "_build.py"
        if not target.parent.is_dir():
            return      # an editable install copies no package: the checkout's own day applies
        target.write_text('"""Written by setup.py when this release was built."""\n'
                          f'BUILD_DAY = "{time.strftime("%Y-%m-%d", time.gmtime(epoch))}"\n', encoding="utf-8")


setup(
    cmdclass={"build_py": BuildPyWithDate},
    name="satisfaction-evaluator",
    version="0.1.0",
    description="Satisfaction evaluator terminal (满意度评价器) for public service halls",
    python_requires=">=3.11",
    packages=find_packages(include=["kiosk", "kiosk.*", "drivers", "drivers.*", "contract", "contract.*",
                                    "sync", "sync.*", "centre", "centre.*", "evaluator", "evaluator.*"]),
    package_data={
        "kiosk": ["store/migrations/*.py", "store/migrations/versions/*.py", "ui/*.kv", "sounds/*.wav"],
        "centre": ["db/migrations/*.py", "db/migrations/versions/*.py", "registry/sectors.yaml",
                   "province/mappings/*.yaml",   # the shipped mapping to the province's record
                   # the console's pages, and the front-end packages `make frontend` copies from the npm registry
                   "console/templates/*.html", "console/templates/*/*.html", "console/static/*",
                   "console/static/vendor/*"],
    },
    install_requires=[
        "kivy==2.3.1",
        "SQLAlchemy>=2.0,<3",
        "alembic>=1.13,<2",
        "pyserial>=3.5",
        "requests>=2.31",
        "qrcode>=7.4",
        "pydantic>=2.5,<3",
        "PyYAML>=6",
        "tzdata",
        "fonttools>=4.40",
    ],
    extras_require={
        # httptools and uvloop: uvicorn picks them up by itself; against its pure-Python HTTP parser
        # and asyncio's loop they take about a sixth off the centre's CPU time per batch (bench/).
        "centre": ["fastapi>=0.110", "uvicorn>=0.29", "httptools>=0.6", "uvloop>=0.19; sys_platform != 'win32'",
                   "prometheus-client>=0.20",
                   "openpyxl>=3.1",    # the registry's xlsx import and template
                   "chinesecalendar>=1.11",    # China's working days: holidays, 调休 (the demo city, deadlines)
                   # the console (centre/console): pages, passwords, forms
                   "jinja2>=3.1", "argon2-cffi>=23.1", "python-multipart>=0.0.9",
                   # the report to the province: SM2 signatures with SM3 (国密), pure Python (centre/province)
                   "gmssl>=3.2.2,<4"],
        # the centre on PostgreSQL: SQLAlchemy's "postgresql+psycopg://" URLs
        "postgres": ["psycopg[binary]>=3.1,<4"],
        # pyzbar: the tests decode the QR codes the screens draw (it loads Debian's libzbar0, deploy/testdeps.sh)
        "dev": ["pytest>=8", "hypothesis>=6.100", "schemathesis>=4.32,<5", "psycopg[binary]>=3.1,<4",
                "prometheus-client>=0.20", "openpyxl>=3.1", "types-openpyxl",
                "pyzbar>=0.1.9,<0.2",
                # the design's rules, checked by `make test`: import contracts, lint, types (.importlinter,
                # ruff.toml, mypy.ini)
                "import-linter>=2.1,<3", "ruff>=0.6", "mypy>=1.10", "types-PyYAML", "types-requests",
                "pytest-xdist>=3.5",
                # the alerts' tests: a real SMTP server on 127.0.0.1 (aiosmtpd), and a CA and certificate of the
                # tests' own for its STARTTLS and implicit TLS (cryptography)
                "aiosmtpd>=1.4", "cryptography>=42",
                # the console's pages in a real browser: Debian's Chromium (deploy/testdeps.sh), never a
                # downloaded one (`playwright install` is not used)
                "playwright>=1.45"],
    },
    entry_points={"console_scripts": ["evaluator = evaluator.cli:main"]},
)
