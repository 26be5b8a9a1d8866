"""An isolated JupyterLab server for the browser tests and the browser benchmark.

It runs from the project's environment with HOME and every Jupyter directory in a temporary
folder (nothing is written to the user's home), serves a temporary root into which the
notebooks are copied (a test run can never rewrite the repository's notebooks; autosave is
off as well), listens on 127.0.0.1 with a random token, and starts kernels in fast mode
(GENTOOLKIT_FAST=1). Used by tests/browser/conftest.py and benchmarks/browser_latency.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CHROMIUM = "/usr/lib/chromium/chromium"  # the real binary behind Debian's /usr/bin/chromium


def chromium_path() -> str | None:
    """CHROMIUM_PATH if set, else Debian's chromium; None when neither exists."""
    path = os.environ.get("CHROMIUM_PATH", DEFAULT_CHROMIUM)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (kernels run in their own session, so killing the
    server's process group does not reach them)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


class Lab:
    """``with Lab() as lab:`` starts the server; ``lab.url(path)`` is a page URL with the
    token; ``lab.root`` is the served folder (notebooks/ copied in)."""

    def __init__(self, notebooks: list[Path] | None = None, *, fast: bool = True):
        self.tmp = Path(tempfile.mkdtemp(prefix="gentoolkit-lab-"))
        self.root = self.tmp / "root"
        (self.root / "notebooks").mkdir(parents=True)
        for nb in notebooks if notebooks is not None else sorted((REPO / "notebooks").glob("*.ipynb")):
            shutil.copy(nb, self.root / "notebooks" / nb.name)
        self.token, self.port = secrets.token_hex(16), _free_port()
        self.fast, self.proc = fast, None

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every running kernel (between notebooks, so they do not compete for CPU)."""
        req = urllib.request.Request(self.url("api/kernels"))
        for k in json.loads(urllib.request.urlopen(req, timeout=10).read()):
            urllib.request.urlopen(
                urllib.request.Request(self.url(f"api/kernels/{k['id']}"), method="DELETE"), timeout=30
            )

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}
        dirs = {
            "HOME": "home",
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        }
        for var, sub in dirs.items():
            (self.tmp / sub).mkdir(exist_ok=True)
            env[var] = str(self.tmp / sub)
        if self.fast:
            env["GENTOOLKIT_FAST"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        return env

    def _settings(self) -> None:
        # autosave off, no "What's new"/news prompts: the page only shows what the test does
        docmanager = self.tmp / "settings" / "@jupyterlab" / "docmanager-extension"
        docmanager.mkdir(parents=True, exist_ok=True)
        (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        # every cell in the DOM (JupyterLab 4 renders only the visible ones by default)
        tracker = self.tmp / "settings" / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        news = self.tmp / "settings" / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )

    def __enter__(self) -> Lab:
        self._settings()
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=",
        ]
        if os.geteuid() == 0:  # JupyterLab refuses to run as root without it
            cmd.append("--allow-root")
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env=self._env(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.server_log()}")
            try:
                urllib.request.urlopen(self.url("api/status"), timeout=2).read()
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"JupyterLab did not answer within 60 s:\n{self.server_log()}")

    def server_log(self) -> str:
        path = self.tmp / "server.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            kernels = _children(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            for pid in kernels:  # kernels live in their own session
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.proc = None
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
