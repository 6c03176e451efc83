"""The real-server fixture counts a server ready only when the answer comes from its own child:
a port picked free can be taken by another process before the child binds it."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.server import RegistryServer, listener_pids

pytestmark = pytest.mark.e2e

# Answers 200 to every GET, as another test run's registry would answer /-/readiness.
IMPOSTOR = """
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok)
print("listening", flush=True)
server.serve_forever()
"""


def test_a_picked_port_served_by_another_process_is_not_taken_for_ready(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "server")
    taken = server.port
    impostor = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR, str(taken)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert impostor.stdout is not None and impostor.stdout.readline() == "listening\n"
        server.start()
        try:
            assert server.port != taken
            assert server.process is not None
            assert server.process.pid in listener_pids(server.port)
            # The registry asks for credentials; the impostor would have said 200.
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{server.url}/v2/")
            refused.value.close()
            assert refused.value.code == 401
        finally:
            server.stop()
    finally:
        impostor.kill()
        impostor.wait()
        if impostor.stdout is not None:
            impostor.stdout.close()
