"""What operators see of a running node: how services put values in log lines that the CLI's
logging configuration decides how to show (`MessageText`, `[logging] show_short_message`).
Import from here.
"""

from opensmsc.observability.text import MessageText
from opensmsc.observability.trace import TRACE_IN_TEXT, current_trace, set_current_trace, traced

__all__ = ["TRACE_IN_TEXT", "MessageText", "current_trace", "set_current_trace", "traced"]
