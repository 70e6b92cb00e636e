"""Reporting: results files in, tables, statistics, figures and an HTML page out.

:mod:`.tables` aggregates records into tables (mean and interval per codec and SNR) and draws
the figures and grids; :mod:`.comparison` holds the paired statistics (BD-PSNR, BD-SNR, paired
bootstrap) behind ``report --vs``; :mod:`.formats` renders tables as Markdown, CSV, LaTeX and
JSON; :mod:`.html` writes the self-contained page. May import the bench's results format and the
contract below it, never the trainers or the command line.
"""

from .tables import FORMATS, SKIPPED, Row, Table, aggregate, filter_records, grid, plot, rd_plot, to_csv, to_json, to_markdown

__all__ = ["FORMATS", "SKIPPED", "Row", "Table", "aggregate", "filter_records", "grid", "plot", "rd_plot", "to_csv",
           "to_json", "to_markdown"]
