#!/usr/bin/env python3
"""Count accountd's round trips to PostgreSQL (docs/benchmarks.md).

  pg_count.py UPSTREAM_HOST UPSTREAM_PORT COUNT_FILE

A TCP proxy on 127.0.0.1 (free port; prints `listening on ADDR:PORT`) that
forwards to PostgreSQL and reads the frontend protocol the client sends. A
round trip is a message after which the client waits for the server: Sync
('S', the end of an extended-protocol batch: Parse/Bind/Execute...) or a
simple Query ('Q', e.g. BEGIN and COMMIT). After each, the running total is
written to COUNT_FILE. An SSLRequest is answered 'N' here (no TLS), so the
stream stays readable.
"""
import asyncio
import os
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
ROUND_TRIPS = 0


def record(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(ROUND_TRIPS))
    os.replace(tmp, path)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def client_to_server(reader, client_writer, server_writer, count_file):
    global ROUND_TRIPS
    # Untyped startup packets first: length, then a code or protocol version.
    while True:
        head = await reader.readexactly(8)
        length, code = struct.unpack("!II", head)
        if code in (SSL_REQUEST, GSSENC_REQUEST):
            client_writer.write(b"N")
            await client_writer.drain()
            continue
        server_writer.write(head + await reader.readexactly(length - 8))
        await server_writer.drain()
        break
    # Then typed messages: one byte of type, a length that counts itself.
    while True:
        kind = await reader.readexactly(1)
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        if kind in (b"S", b"Q"):
            ROUND_TRIPS += 1
            record(count_file)
        server_writer.write(kind + struct.pack("!I", length) + body)
        await server_writer.drain()


async def main(host, port, count_file):
    record(count_file)

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection(host, port)
        back = asyncio.ensure_future(pipe(server_reader, client_writer))
        try:
            await client_to_server(client_reader, client_writer, server_writer, count_file)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            server_writer.close()
            back.cancel()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    addr = server.sockets[0].getsockname()
    print(f"listening on {addr[0]}:{addr[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    except KeyboardInterrupt:
        pass
