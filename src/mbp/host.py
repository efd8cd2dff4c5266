"""
Trellis's host for one maubot plugin instance (an uploaded .mbp): runs the
plugin's main class with maubot's own framework (maubot and mautrix from
PyPI), the way maubot's PluginInstance starts it, in a process of its own.

It speaks the protocol of src/mbp/protocol.ts over file descriptor 3 (one JSON
object per line, both ways) with the daemon's adapter (src/mbp/adapter.ts):

  daemon -> host   {"type": "start", ...}       load and start the plugin
                   {"type": "event", "id", "event"}   dispatch, answer "done"
                   {"type": "config", "config"}  on_external_config_update
                   {"type": "response", "id", "result" | "error"}
                   {"type": "stop"}
  host -> daemon   {"type": "started"} | {"type": "failed", "error", "traceback"}
                   {"type": "done", "id", "error"?}
                   {"type": "request", "id", "method", "path", "query", "body" | "body_b64", "content_type"}
                   {"type": "log", "level", "logger", "message"}
                   {"type": "config_saved", "config"}

Every Matrix call the plugin makes (mautrix's HTTPAPI.request) becomes a
"request" the daemon carries out as the instance's bot: sends go through its
encrypting, idempotent send, so a Python plugin behaves like a TypeScript one.
Events arrive already decrypted and filtered by the instance's rooms.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import importlib
import io
import json
import logging
import os
import socket
import sys
import traceback
from typing import Any

from aiohttp import ClientSession, web
from mautrix.api import HTTPAPI, Method
from mautrix.client import SyncStream
from mautrix.errors import make_request_error
from mautrix.types import Event
from mautrix.util.async_db import Database
from mautrix.util.config import RecursiveDict
from mautrix.util.logging import TraceLogger
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from maubot.loader import BasePluginLoader, PluginMeta
from maubot.matrix import MaubotMatrixClient
from maubot.plugin_server import PluginWebApp

yaml = YAML()
yaml.indent(4)
yaml.width = 200

logging.setLoggerClass(TraceLogger)


class Channel:
    """The JSON-lines connection to the daemon on fd 3."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0

    async def open(self) -> None:
        sock = socket.socket(fileno=3)
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=64 * 1024 * 1024)

    def send(self, message: dict) -> None:
        assert self.writer is not None
        self.writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def call(self, message: dict) -> Any:
        self.next_id += 1
        rid = self.next_id
        future = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        self.send({**message, "type": "request", "id": rid})
        return await future

    def resolve(self, message: dict) -> None:
        future = self.pending.pop(message["id"], None)
        if future is not None and not future.done():
            future.set_result(message)


channel = Channel()

# The event whose handlers run in this task (asyncio copies context into the tasks they start), and
# how many Matrix calls they made so far: the daemon derives replay-stable transaction ids from both.
current_event: contextvars.ContextVar[tuple[str, list[int]] | None] = contextvars.ContextVar("current_event", default=None)


class TrellisLogHandler(logging.Handler):
    """Log records go to the daemon's log with the instance id (maubot's level names)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            channel.send({"type": "log", "level": record.levelname, "logger": record.name, "message": message})
        except Exception:  # noqa: BLE001 - a log line must never take the plugin down
            pass


class TrellisHTTPAPI(HTTPAPI):
    """mautrix's HTTP API, carried out by the daemon as the instance's bot."""

    async def request(self, method: Method, path: Any, content: Any = None, headers: dict | None = None, query_params: Any = None, **_: Any) -> Any:
        message: dict[str, Any] = {
            "method": str(method.value if hasattr(method, "value") else method),
            "path": self._full_path(path),
            "query": {k: str(v) for k, v in (query_params or {}).items() if v is not None},
        }
        if isinstance(content, (bytes, bytearray)):
            message["body_b64"] = base64.b64encode(bytes(content)).decode()
            message["content_type"] = (headers or {}).get("Content-Type", "application/octet-stream")
        elif isinstance(content, str):
            message["body_b64"] = base64.b64encode(content.encode()).decode()
            message["content_type"] = (headers or {}).get("Content-Type", "text/plain")
        elif content is not None:
            message["body"] = content.serialize() if hasattr(content, "serialize") else content
        event = current_event.get()
        if event is not None:
            event_id, counter = event
            counter[0] += 1
            message["event_id"] = event_id
            message["seq"] = counter[0]
        answer = await channel.call(message)
        if "error" in answer:
            error = answer["error"]
            raise make_request_error(int(error.get("status", 500)), json.dumps(error), error.get("errcode"), error.get("error"))
        return answer.get("result")


class DirectoryLoader(BasePluginLoader):
    """The extracted .mbp: read_file/list_files as maubot's zip loader offers them."""

    def __init__(self, path: str, meta: PluginMeta) -> None:
        self.path = path
        self.meta = meta

    @property
    def source(self) -> str:
        return self.path

    def _resolve(self, relative: str) -> str:
        full = os.path.realpath(os.path.join(self.path, relative))
        if not full.startswith(os.path.realpath(self.path) + os.sep):
            raise FileNotFoundError(relative)
        return full

    def sync_read_file(self, path: str) -> bytes:
        with open(self._resolve(path), "rb") as file:
            return file.read()

    async def read_file(self, path: str) -> bytes:
        return self.sync_read_file(path)

    def sync_list_files(self, directory: str) -> list[str]:
        return sorted(os.listdir(self._resolve(directory)))

    async def list_files(self, directory: str) -> list[str]:
        return self.sync_list_files(directory)


def load_main_class(path: str, meta: PluginMeta) -> type:
    """Imports the plugin's modules from its folder and finds main_class as maubot does."""
    if "/" in meta.main_class:
        main_module, main_class = meta.main_class.split("/")[:2]
    else:
        main_module, main_class = meta.modules[-1], meta.main_class
    sys.path.insert(0, path)
    # The plugin's own dependencies (installed at upload by src/mbp/dependencies.ts) come before maubot's.
    deps = os.path.join(path, ".deps")
    if os.path.isdir(deps):
        sys.path.insert(1, deps)
    for module in meta.modules:
        importlib.import_module(module)
    try:
        return getattr(sys.modules[main_module], main_class)
    except (KeyError, AttributeError) as e:
        raise RuntimeError(f"main class {main_class} not found in module {main_module}") from e


class Host:
    def __init__(self) -> None:
        self.plugin: Any = None
        self.client: MaubotMatrixClient | None = None
        self.config_str = ""
        self.database: Any = None  # mautrix's async Database, or a SQLAlchemy engine (legacy plugins)
        self.http: ClientSession | None = None
        self.web_runner: web.AppRunner | None = None
        self.web_port: int | None = None
        self.stopping = asyncio.Event()

    def load_config(self) -> CommentedMap:
        return yaml.load(self.config_str) or CommentedMap()

    def save_config(self, data: RecursiveDict[CommentedMap]) -> None:
        buf = io.StringIO()
        yaml.dump(data, buf)
        value = buf.getvalue()
        if value != self.config_str:
            self.config_str = value
            channel.send({"type": "config_saved", "config": value})

    async def start(self, message: dict) -> None:
        meta = PluginMeta.deserialize(message["meta"])
        path = message["plugin_dir"]
        loader = DirectoryLoader(path, meta)
        log = logging.getLogger(f"maubot.instance.{message['instance_id']}")
        self.config_str = message.get("config") or ""
        cls = load_main_class(path, meta)
        self.http = ClientSession()
        api = TrellisHTTPAPI(message.get("homeserver") or "https://homeserver.invalid", "", client_session=self.http, log=logging.getLogger("maubot.client"))
        self.client = MaubotMatrixClient(mxid=message["user_id"], device_id=message.get("device_id") or "", api=api, loop=asyncio.get_running_loop())
        if meta.database and str(meta.database_type.value) == "sqlalchemy":
            # maubot's legacy interface: a SQLAlchemy engine on the instance's SQLite file, as maubot gives it.
            from sqlalchemy import create_engine

            self.database = create_engine(f"sqlite:///{message['database']}")
        elif meta.database:
            self.database = Database.create(f"sqlite:{message['database']}", upgrade_table=cls.get_db_upgrade_table(), log=logging.getLogger(f"maubot.instance_db.{message['instance_id']}"))
            await self.database.start()
        config = None
        config_class = cls.get_config_class()
        if config_class:
            try:
                base = RecursiveDict(yaml.load((await loader.read_file("base-config.yaml")).decode("utf-8")), CommentedMap)
                base_func = base.clone
            except (FileNotFoundError, KeyError):
                def base_func() -> None:
                    return None
            config = config_class(self.load_config, base_func, self.save_config)
        webapp = PluginWebApp() if meta.webapp else None
        if webapp is not None:
            await self.serve(webapp)
        self.plugin = cls(
            client=self.client,
            loop=asyncio.get_running_loop(),
            http=self.http,
            instance_id=message["instance_id"],
            log=log,
            config=config,
            database=self.database,
            webapp=webapp,
            webapp_url=message.get("webapp_url"),
            loader=loader,
        )
        await self.plugin.internal_start()

    async def serve(self, webapp: PluginWebApp) -> None:
        """The plugin's aiohttp routes on a loopback port; the daemon's public listener passes requests on to it."""
        app = web.Application()

        async def handle(request: web.Request) -> web.StreamResponse:
            return await webapp.handle(request)

        app.router.add_route("*", "/{tail:.*}", handle)
        self.web_runner = web.AppRunner(app, access_log=None)
        await self.web_runner.setup()
        site = web.TCPSite(self.web_runner, "127.0.0.1", 0)
        await site.start()
        self.web_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def dispatch(self, message: dict) -> None:
        error = None
        try:
            assert self.client is not None
            event = Event.deserialize(message["event"])
            current_event.set((message["event"]["event_id"], [0]))
            tasks = self.client.dispatch_event(event, SyncStream.JOINED_ROOM | SyncStream.TIMELINE)
            # mautrix logs a handler's exception itself (and swallows it): waiting is enough.
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {e}"
            logging.getLogger("maubot.host").exception("dispatching an event failed")
        channel.send({"type": "done", "id": message["id"], **({"error": error} if error else {})})

    async def update_config(self, config: str) -> None:
        if config == self.config_str:
            return
        self.config_str = config
        if self.plugin is not None:
            result = self.plugin.on_external_config_update()
            if asyncio.iscoroutine(result):
                await result

    async def stop(self) -> None:
        try:
            if self.plugin is not None:
                await self.plugin.internal_stop()
            if isinstance(self.database, Database):
                await self.database.stop()
            elif self.database is not None:
                self.database.dispose()
            if self.web_runner is not None:
                await self.web_runner.cleanup()
            if self.http is not None:
                await self.http.close()
        finally:
            self.stopping.set()


async def started(host: Host, message: dict) -> None:
    try:
        await host.start(message)
        channel.send({"type": "started", "webapp_port": host.web_port})
    except Exception as e:  # noqa: BLE001
        channel.send({"type": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()})


async def read(host: Host) -> None:
    """Every message but a response runs as its own task: a plugin waiting for a Matrix call must not block the reading of its answer."""
    assert channel.reader is not None
    tasks: set[asyncio.Task] = set()
    while True:
        line = await channel.reader.readline()
        if not line:
            os._exit(0)  # the daemon went away: so do we, at once
        message = json.loads(line)
        kind = message.get("type")
        if kind == "response":
            channel.resolve(message)
            continue
        if kind == "ping":
            channel.send({"type": "pong", "id": message["id"]})
            continue
        if kind == "event":
            work = host.dispatch(message)
        elif kind == "start":
            work = started(host, message)
        elif kind == "config":
            work = host.update_config(message["config"])
        elif kind == "stop":
            work = host.stop()
        else:
            continue
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def main() -> None:
    root = logging.getLogger()
    root.handlers[:] = [TrellisLogHandler()]
    root.setLevel(logging.DEBUG if os.environ.get("TRELLIS_MBP_DEBUG") else logging.INFO)
    await channel.open()
    host = Host()
    reader = asyncio.create_task(read(host))
    await host.stopping.wait()
    reader.cancel()
    channel.send({"type": "stopped"})
    assert channel.writer is not None
    await channel.writer.drain()


if __name__ == "__main__":
    asyncio.run(main())
