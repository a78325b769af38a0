"""The board report: links that open it in a browser (service/report/ renders it)."""
