"""A small TCP proxy for link-fault tests: it forwards a loopback port to a
server and can pause the traffic (both ways), cut every connection, or delay
each chunk it forwards. Replicas are pointed at the proxy instead of the
primary, so the tests can break the replication link at will."""

import select
import socket
import threading
import time


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.paused = threading.Event()
        self.delay_s = 0.0
        self.pairs = []  # (client side, server side) sockets
        self.lock = threading.Lock()
        self.cuts = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    # -- faults ------------------------------------------------------------------------

    def pause(self):
        """Stop forwarding (bytes wait in the kernel buffers), as a stalled network."""
        self.paused.set()

    def resume(self):
        self.paused.clear()

    def cut(self):
        """Close every proxied connection at once, as a broken link."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
            self.cuts += 1
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def delay(self, seconds):
        self.delay_s = seconds

    def close(self):
        self.stopping = True
        self.cut()
        self.listener.close()

    # -- forwarding ----------------------------------------------------------------------

    def _accept_loop(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a, b):
        peer = {a: b, b: a}
        try:
            while True:
                while self.paused.is_set():
                    time.sleep(0.01)
                    if a.fileno() < 0:
                        return
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for s in ready:
                    if self.paused.is_set():
                        break
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    if self.delay_s:
                        time.sleep(self.delay_s)
                    peer[s].sendall(data)
        except (OSError, ValueError):
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
