"""How long a normal predict waits while slow clients hold connections to the demo server.

On 127.0.0.1: a demo server with its default limits (32 workers, 10 s deadlines); 16 clients
that pipeline 300 requests each and never read, 16 that pipeline as many and read 4 KB
every 2 s, and 96 that send half a request head. Then a few predicts, each on a new
connection, one after another. It prints one JSON line: the seconds each predict took (or
the error it got within ``--timeout`` seconds) and the machine's load average.

    python benchmarks/server_slow_clients.py
    python benchmarks/server_slow_clients.py --predicts 10 --timeout 60
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import threading
import time

from neural_network import load_mnist
from neural_network.apps.server import make_server


def small_window_socket(address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(address)
    return sock


def predict_seconds(address, pixels, timeout):
    body = json.dumps({"pixels": [int(v) for v in pixels]})
    started = time.monotonic()
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        connection.close()
    return round(time.monotonic() - started, 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predicts", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per predict")
    args = parser.parse_args()
    _, (x_test, _) = load_mnist()
    server = make_server(None, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = server.server_address[:2]
    host = f"{address[0]}:{address[1]}"
    pipelined = f"GET /app.js HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() * 300
    stop = threading.Event()
    never_read = [small_window_socket(address) for _ in range(16)]
    read_slowly = [small_window_socket(address) for _ in range(16)]
    for sock in never_read + read_slowly:
        sock.sendall(pipelined)

    def reader():
        while not stop.wait(2.0):
            for sock in read_slowly:
                with contextlib.suppress(OSError):
                    sock.recv(4096)

    threading.Thread(target=reader, daemon=True).start()
    half_sent = []
    for _ in range(96):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {host}\r\nContent-Le".encode())
        half_sent.append(sock)
    time.sleep(0.5)
    seconds = []
    for index in range(args.predicts):
        try:
            seconds.append(predict_seconds(address, x_test[index], args.timeout))
        except (OSError, AssertionError, http.client.HTTPException) as error:
            seconds.append(repr(error))
    print(json.dumps({"predict_seconds": seconds, "load_average": os.getloadavg()}))
    stop.set()
    for sock in never_read + read_slowly + half_sent:
        sock.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
