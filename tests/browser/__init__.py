"""Browser tests: real Chromium driving real JupyterLab and the live inbox page."""
