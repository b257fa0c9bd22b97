"""Server-rendered pages for consumers (查询机 / phone): the trace page in Chinese."""

from .docs_page import install_docs
from .trace_page import render_trace_page

__all__ = ["install_docs", "render_trace_page"]
