"""The front door's files: GraphiQL and React (vendor/, from npm) and our own (static/), served from the package.

Each file is served at `/assets/{version}/{name}`, where the version is a digest of every file served: a
release that changes any of them changes every address, so browsers may keep them for a year
(`immutable`) and never serve an old GraphiQL beside a new page. Each is read once, and compressed once
the first time a client accepting gzip asks; the gzip bytes have an ETag of their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from service.compression import GZIP, accepts_gzip, gzip_off_loop, worth_compressing
from service.response_cache import matches

FOLDERS: Final = ("vendor", "static")
MEDIA_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE: Final = "public, max-age=31536000, immutable"


@dataclass
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzip_etag: str
    gzipped: bytes | None = None


class Assets:
    """Every file of vendor/ and static/, by name, with the version their addresses carry."""

    def __init__(self) -> None:
        self.files: dict[str, Asset] = {}
        package = resources.files(__package__)
        everything = hashlib.sha256()
        for folder in FOLDERS:
            for entry in sorted(package.joinpath(folder).iterdir(), key=lambda e: e.name):
                if not entry.is_file() or entry.name.endswith((".md", ".py")) or entry.name == "SHA256SUMS":
                    continue
                body = entry.read_bytes()
                digest = hashlib.sha256(body).hexdigest()
                everything.update(f"{entry.name}\0{digest}\0".encode())
                media_type = MEDIA_TYPES.get(entry.name[entry.name.rfind(".") :], "text/plain; charset=utf-8")
                self.files[entry.name] = Asset(body, media_type, f'"{digest[:32]}"', f'"{digest[:32]}-gzip"')
        self.version = everything.hexdigest()[:12]

    def url(self, name: str) -> str:
        """The address a page names a file by."""
        if name not in self.files:
            raise KeyError(name)
        return f"/assets/{self.version}/{name}"

    async def serve(self, request: Request) -> Response:
        asset = self.files.get(request.path_params["name"])
        if asset is None or request.path_params["version"] != self.version:
            # Another release's address, or none at all: a page from before an upgrade reloads.
            return PlainTextResponse("Not Found", status_code=404)
        gzip = accepts_gzip(request.headers.get("accept-encoding")) and worth_compressing(asset.body)
        etag = asset.gzip_etag if gzip else asset.etag
        headers = {"cache-control": IMMUTABLE, "etag": etag, "vary": "Accept-Encoding"}
        if matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        if not gzip:
            return Response(asset.body, media_type=asset.media_type, headers=headers)
        if asset.gzipped is None:
            asset.gzipped = await gzip_off_loop(asset.body)
        return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "content-encoding": GZIP})
