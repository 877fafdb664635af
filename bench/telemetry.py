# SPDX-License-Identifier: BSD-3-Clause
"""A minimal client for DPDK's telemetry socket (v2).

Any DPDK process (testpmd, l3fwd, sluice-dataplane) listens on
/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2, a SOCK_SEQPACKET socket: on
connect it sends one JSON object describing itself; each command ("/ethdev/
stats,0") is answered by one JSON object {"<command>": <value>}.  Reading
the counters of a running process this way measures every application the
same way, whatever it prints itself.

    from telemetry import Telemetry
    with Telemetry("sluice-bench") as t:
        t.ethdev_stats(1)["opackets"]
"""
import json
import os
import socket
import time

RUNTIME_DIR = "/var/run/dpdk"


def socket_path(file_prefix):
    return os.path.join(RUNTIME_DIR, file_prefix, "dpdk_telemetry.v2")


class TelemetryError(RuntimeError):
    pass


class Telemetry:
    """One connection to one DPDK process's telemetry socket."""

    def __init__(self, file_prefix, timeout=30.0):
        path = socket_path(file_prefix)
        deadline = time.monotonic() + timeout
        last_err = None
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                sock.connect(path)
                break
            except OSError as err:
                sock.close()
                last_err = err
                if time.monotonic() >= deadline:
                    raise TelemetryError(
                        f"no DPDK telemetry at {path}: {last_err}") from err
                time.sleep(0.1)
        self.sock = sock
        self.info = json.loads(self._recv())
        self.max_len = self.info.get("max_output_len", 16384)

    def _recv(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise TelemetryError("the DPDK process closed its telemetry socket")
        return data.decode()

    def cmd(self, command):
        """Send one command; return its value (the object under its key)."""
        self.sock.send(command.encode())
        reply = json.loads(self._recv())
        key = command.split(",", 1)[0]
        if key not in reply:
            raise TelemetryError(f"unexpected reply to {command}: {reply}")
        return reply[key]

    def ethdev_list(self):
        return self.cmd("/ethdev/list")

    def ethdev_stats(self, port):
        stats = self.cmd(f"/ethdev/stats,{port}")
        if not isinstance(stats, dict):
            raise TelemetryError(f"no stats for port {port}: {stats}")
        return stats

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2:
        sys.exit("usage: telemetry.py FILE_PREFIX [COMMAND...]")
    with Telemetry(sys.argv[1], timeout=1.0) as t:
        for c in sys.argv[2:] or ["/ethdev/list"]:
            print(c, json.dumps(t.cmd(c)))
