"""results.json, report.md and plots."""

from secvec.report.render import markdown_table, table_rows, write_report

__all__ = ["markdown_table", "table_rows", "write_report"]
