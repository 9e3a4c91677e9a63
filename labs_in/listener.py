"""The MLLP listener: a TCP server (python-hl7's asyncio MLLP streams) that answers each framed
message with the ACK labs_in.actions.message_receive gives it, one connection per sender, many
messages a connection. The database work runs in one worker thread (asgiref's sync_to_async), so
messages are received one at a time, in order."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from accounts.models import Clinic
from labs_in import actions, hl7in
from labs_in.drop_folder import drop_folder_scan

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024
IDLE_TIMEOUT_SECONDS = 600.0
DROP_FOLDER_EVERY_SECONDS = 5.0


def _receive(text: str, clinic: Clinic | None) -> str:
    close_old_connections()  # a connection the database dropped since the last message is replaced
    try:
        return actions.message_receive(text=text, clinic=clinic, via="mllp").ack
    except Exception:
        # Nothing was stored (the message's transaction rolled back): the laboratory should send it again.
        log.exception("HL7 message could not be stored")
        return hl7in.ack(text, "AE", "The message could not be stored; send it again.", control_id="ERROR")


def _scan(folder: Path, clinic: Clinic | None) -> None:
    close_old_connections()
    try:
        drop_folder_scan(folder=folder, clinic=clinic)
    except Exception:
        log.exception("Drop folder %s could not be read", folder)


class MllpListener:
    """The MLLP server, and the drop folder's watcher when `drop_folder` is given (same process, same
    worker thread for the database)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        clinic: Clinic | None,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        drop_folder: Path | None = None,
    ) -> None:
        self.host, self.port, self.clinic, self.idle_timeout = host, port, clinic, idle_timeout
        self.drop_folder = drop_folder
        self.address: tuple[str, int] | None = None
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def _client(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    block = await asyncio.wait_for(reader.readblock(), timeout=self.idle_timeout)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    break  # the sender closed the connection, or went quiet
                except (InvalidBlockError, ValueError) as error:
                    log.warning("MLLP framing lost with %s, closing: %s", peer, error)
                    break
                text = block.decode("utf-8", errors="replace")
                ack = await sync_to_async(_receive, thread_sensitive=True)(text, self.clinic)
                writer.writeblock(ack.encode("utf-8"))
                await writer.drain()
        finally:
            writer.close()

    async def serve(self) -> None:
        """Serve until stop() (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await start_hl7_server(self._client, self.host, self.port, limit=MAX_MESSAGE_BYTES)
        self.address = server.sockets[0].getsockname()[:2]
        log.info("MLLP listener on %s:%s", *self.address)
        self.ready.set()
        watcher = asyncio.create_task(self._watch()) if self.drop_folder else None
        async with server:
            await self._stop.wait()
        if watcher:
            watcher.cancel()

    async def _watch(self) -> None:
        assert self.drop_folder is not None
        log.info("Watching the drop folder %s", self.drop_folder)
        while True:
            await sync_to_async(_scan, thread_sensitive=True)(self.drop_folder, self.clinic)
            await asyncio.sleep(DROP_FOLDER_EVERY_SECONDS)

    def stop(self) -> None:
        """From any thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
