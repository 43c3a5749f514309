"""JupyterLab's settings for `./workbook.sh lab` (passed with --config).

A saved notebook keeps its figures' JSON, not the PNG snapshots plotly's renderer adds
(tools/lab_save.py), and one warning a user cannot act on is dropped: tornado ≥ 6.5 takes
jupyter_server's kernel-websocket ping settings (milliseconds: interval 30000, timeout 90000)
for its own and logs, once per server, "The websocket_ping_timeout (90000) cannot be longer
than the websocket_ping_interval (30000)". jupyter_server's own pings, which keep the kernels'
websockets alive, are not affected; making the two numbers equal instead closes every kernel
websocket after 30 s.
"""
import logging


class DropPingTimeoutClamp(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "websocket_ping_timeout" not in record.getMessage()


logging.getLogger("tornado.general").addFilter(DropPingTimeoutClamp())

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)
c.ContentsManager.pre_save_hook = "lab_save.drop_figure_snapshots"
