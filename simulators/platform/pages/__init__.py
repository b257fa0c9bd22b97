"""Server-rendered pages for consumers (查询机 / phone): the trace page in Chinese."""
from .trace_page import render_trace_page

__all__ = ["render_trace_page"]
