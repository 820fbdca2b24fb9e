"""A TCP relay between the bot and its database that a test can cut and restore.

Cutting drops every open connection and refuses new ones, as a database restart or a network
partition looks from the bot's side; restoring lets connections through again. Going silent
stops every byte (and every close) from crossing while the sockets stay open, as a firewall or
NAT fail-over that drops packets looks.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpRelay:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused = 0
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            self.refused += 1
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        await self._flowing.wait()
        writer.close()

    def go_silent(self) -> None:
        self._flowing.clear()

    def cut(self) -> None:
        self.cut_off = True
        self._flowing.set()
        for w in list(self._writers):
            w.transport.abort()

    def restore(self) -> None:
        self.cut_off = False
        self._flowing.set()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def relay_database(database_url: str) -> tuple[TcpRelay, str]:
    """A started relay in front of the database server of `database_url`, and the URL that
    reaches the same database through it."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    relay = TcpRelay(url.host or "127.0.0.1", url.port or 5432)
    await relay.start()
    return relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
