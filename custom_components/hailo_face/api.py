"""Async client for the Hailo Face server's HTTP API.

It imports nothing from Home Assistant, so it can be used (and tested) on its
own.  Every failure is one of the exceptions below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL

DEFAULT_TIMEOUT = 30.0


class HailoFaceError(Exception):
    """Any error from the server or from talking to it."""

    def __init__(self, message: str, code: str = "error", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}


class CannotConnect(HailoFaceError):
    """The server cannot be reached or did not answer in time."""


class AuthFailed(HailoFaceError):
    """The API key is missing or wrong."""


class NoFace(HailoFaceError):
    """No face was found where one was needed."""


class MultipleFaces(HailoFaceError):
    """Several faces were found where one was needed."""

    @property
    def faces(self) -> list[dict[str, Any]]:
        faces: list[dict[str, Any]] = self.details.get("faces", [])
        return faces


class ServerBusy(HailoFaceError):
    """The server is busy or still starting; try again later."""

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        return float(value) if value is not None else None


class NotFound(HailoFaceError):
    """No such person or face sample."""


class NameTaken(HailoFaceError):
    """Another person already has that name."""


class InvalidInput(HailoFaceError):
    """The server refused the request (a bad image, name or parameter)."""


class ServerError(HailoFaceError):
    """The server failed (e.g. its accelerator); it may need a restart."""


_ERRORS_BY_CODE: dict[str, type[HailoFaceError]] = {
    "unauthorized": AuthFailed,
    "no_face": NoFace,
    "multiple_faces": MultipleFaces,
    "server_busy": ServerBusy,
    "timeout": ServerBusy,
    "not_ready": ServerBusy,
    "not_found": NotFound,
    "name_taken": NameTaken,
}


@dataclass(frozen=True)
class RecognizedFace:
    bbox: list[float]
    score: float
    name: str | None
    identity_id: int | None
    similarity: float
    confidence: float  # 0..1
    outcome: str = "unknown"  # named, unknown, or ignored (a poster or a TV face the owner chose to ignore)
    sighting_id: int | None = None  # the sighting the server kept for it (scans that name their camera)


@dataclass(frozen=True)
class Recognition:
    width: int
    height: int
    faces: list[RecognizedFace]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FaceSample:
    id: int
    model: str
    usable: bool
    created_at: str


@dataclass(frozen=True)
class Fallback:
    """Why the server runs on another backend than the one wanted (e.g. another app holds the Hailo)."""

    wanted: str
    code: str
    reason: str


@dataclass(frozen=True)
class Health:
    """``/health``: the server's status, what it runs on, and why it is degraded or fell back."""

    status: str  # starting, ok, degraded or error
    version: str
    backend: str | None
    device: str | None
    problem: str | None
    fallback: Fallback | None
    identities: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        fallback = data.get("fallback")
        identities = data.get("identities")
        return cls(
            status=str(data.get("status", "error")),
            version=str(data.get("version", "")),
            backend=data.get("backend"),
            device=data.get("device"),
            problem=data.get("problem") or data.get("error"),
            fallback=Fallback(
                str(fallback.get("from", "")), str(fallback.get("code", "")), str(fallback.get("reason", ""))
            )
            if isinstance(fallback, dict)
            else None,
            identities=int(identities) if identities is not None else None,
            raw=data,
        )


@dataclass(frozen=True)
class ServerInfo:
    """``/v1/info``: who the server is (its id outlives address changes) and what it runs."""

    server_id: str
    version: str
    backend: str
    device: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerInfo:
        return cls(
            server_id=str(data["server_id"]),
            version=str(data.get("version", "")),
            backend=str(data.get("backend", "")),
            device=str(data.get("device", "")),
            raw=data,
        )


@dataclass(frozen=True)
class PersonSeen:
    """Where and when the cameras last saw a person (``/v1/sightings/summary``)."""

    identity_id: int
    name: str
    last_seen: datetime
    source: str
    confidence: float
    sighting_id: int


@dataclass(frozen=True)
class Labelled:
    identity: Identity
    created: bool
    face_ids: list[int]
    sighting_ids: list[int]


@dataclass(frozen=True)
class Rejected:
    rejected: Identity
    negative_id: int
    relabelled: Labelled | None


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Identity:
    id: int
    name: str
    faces: int
    created_at: str
    updated_at: str
    samples: list[FaceSample] | None = None  # only in listings
    kind: str = "person"  # or "ignored": a poster or TV face the owner chose to ignore
    avatar_face_id: int | None = None  # the sample to show for them (listings of servers with a web page)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Identity:
        avatar = data.get("avatar_face_id")
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            faces=int(data["faces"]),
            created_at=str(data["created_at"]),
            updated_at=str(data["updated_at"]),
            kind=str(data.get("kind", "person")),
            avatar_face_id=int(avatar) if avatar is not None else None,
            samples=[
                FaceSample(int(s["id"]), str(s["model"]), bool(s["usable"]), str(s["created_at"]))
                for s in data["samples"]
            ]
            if "samples" in data
            else None,
        )


@dataclass(frozen=True)
class TaughtFace:
    identity: Identity
    face_id: int
    created: bool
    bbox: list[float]


def image_content_type(image: bytes) -> str:
    """The content type of JPEG, PNG or WebP bytes (the server refuses others)."""
    if image.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidInput("The image is not a JPEG, PNG or WebP file.", "unsupported_media_type")


class HailoFaceClient:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        session: aiohttp.ClientSession,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = URL(url.rstrip("/") + "/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        expect_json: bool = True,
        body_on_error: frozenset[int] = frozenset(),
    ) -> Any:
        headers = dict(self._headers)
        if content_type:
            headers["Content-Type"] = content_type
        url = self.url.join(URL(path.lstrip("/"), encoded=True))
        try:
            async with self._session.request(
                method, url, params=params, json=json, data=data, headers=headers, timeout=self._timeout
            ) as response:
                if response.status >= 400 and response.status not in body_on_error:
                    raise await self._error(response)
                if not expect_json:
                    return await response.read()
                return await response.json()
        except HailoFaceError:
            raise
        except (aiohttp.ClientError, TimeoutError) as err:
            raise CannotConnect(
                f"Cannot reach the Hailo Face server at {self.url}: {err or type(err).__name__}"
            ) from err
        except ValueError as err:
            raise ServerError(f"The server's answer is not valid JSON: {err}") from err

    @staticmethod
    async def _error(response: aiohttp.ClientResponse) -> HailoFaceError:
        try:
            body = await response.json(content_type=None)
            error = dict(body["error"])
            code, message = str(error.pop("code")), str(error.pop("message"))
        except (ValueError, KeyError, TypeError, aiohttp.ClientError):
            code, message, error = f"http_{response.status}", f"HTTP {response.status} {response.reason}", {}
        if "Retry-After" in response.headers:
            error["retry_after"] = response.headers["Retry-After"]
        if code in _ERRORS_BY_CODE:
            kind = _ERRORS_BY_CODE[code]
        elif response.status == 401:
            kind = AuthFailed
        elif response.status >= 500:
            kind = ServerError
        else:
            kind = InvalidInput
        return kind(message, code, error)

    @staticmethod
    def _path_name(name: str) -> str:
        return URL.build(path=name).raw_path.replace("/", "%2F")

    # Server

    async def health(self) -> Health:
        """``/health``, also while the server starts, is degraded or failed (it then answers 503)."""
        return Health.from_json(await self._request("GET", "/health", body_on_error=frozenset({503})))

    async def info(self) -> ServerInfo:
        """``/v1/info``: models, thresholds, limits and the server's id (needs the API key)."""
        return ServerInfo.from_json(await self._request("GET", "/v1/info"))

    # Images

    async def recognize(
        self,
        image: bytes,
        *,
        threshold: float | None = None,
        max_faces: int | None = None,
        source: str | None = None,
    ) -> Recognition:
        """Name the faces of an image; with ``source`` (a camera's entity id) the server keeps them as sightings."""
        params = {}
        if threshold is not None:
            params["threshold"] = f"{threshold:g}"  # the old name: servers before sightings know only it
        if max_faces is not None:
            params["max_faces"] = str(max_faces)
        if source is not None:
            params["source"] = source
        body = await self._request(
            "POST", "/v1/recognize", params=params, data=image, content_type=image_content_type(image)
        )
        try:
            return self._recognition(body)
        except (KeyError, TypeError, ValueError) as err:
            raise ServerError(f"The server's answer to recognize is not what this client knows: {err!r}") from err

    @staticmethod
    def _recognition(body: Any) -> Recognition:
        faces = [
            RecognizedFace(
                bbox=[float(v) for v in face["bbox"]],
                score=float(face["score"]),
                name=face["name"],
                identity_id=face["identity_id"],
                similarity=float(face["similarity"]),
                confidence=float(face["confidence"]),
                outcome=str(face.get("outcome") or ("named" if face["name"] else "unknown")),
                sighting_id=face.get("sighting_id"),
            )
            for face in body["faces"]
        ]
        return Recognition(int(body["width"]), int(body["height"]), faces, dict(body.get("timings_ms", {})))

    async def detect(self, image: bytes) -> list[dict[str, Any]]:
        body = await self._request("POST", "/v1/detect", data=image, content_type=image_content_type(image))
        faces: list[dict[str, Any]] = body["faces"]
        return faces

    # Gallery

    async def add_face(
        self, name: str, image: bytes, *, bbox: list[float] | None = None, pick_largest: bool = False
    ) -> TaughtFace:
        params = {"name": name}
        if bbox is not None:
            params["bbox"] = ",".join(f"{v:g}" for v in bbox)
        if pick_largest:
            params["pick"] = "largest"
        body = await self._request(
            "POST", "/v1/database/add", params=params, data=image, content_type=image_content_type(image)
        )
        identity = Identity.from_json(body["identity"])
        return TaughtFace(identity, int(body["face_id"]), bool(body["created"]), list(body["face"]["bbox"]))

    async def list_identities(self, kind: str = "person") -> list[Identity]:
        """People (``kind`` person), ignored faces (ignored) or both (all)."""
        body = await self._request("GET", "/v1/database/list", params={"kind": kind} if kind != "person" else None)
        return [Identity.from_json(item) for item in body["identities"]]

    async def delete_identity(self, name: str) -> Identity:
        body = await self._request("DELETE", f"/v1/database/{self._path_name(name)}")
        return Identity.from_json(body["deleted"])

    async def delete_face(self, name: str, face_id: int) -> Identity:
        body = await self._request("DELETE", f"/v1/database/{self._path_name(name)}/faces/{int(face_id)}")
        return Identity.from_json(body["identity"])

    async def rename(self, name: str, new_name: str) -> Identity:
        body = await self._request("PATCH", f"/v1/database/{self._path_name(name)}", json={"name": new_name})
        return Identity.from_json(body["identity"])

    async def face_image(self, name: str, face_id: int) -> bytes:
        image: bytes = await self._request(
            "GET", f"/v1/database/{self._path_name(name)}/faces/{int(face_id)}/image", expect_json=False
        )
        return image

    # What the cameras saw

    async def people_seen(self) -> list[PersonSeen]:
        """Each person's last sighting: when, by which camera, how sure."""
        body = await self._request("GET", "/v1/sightings/summary")
        return [
            PersonSeen(
                identity_id=int(p["identity_id"]),
                name=str(p["name"]),
                last_seen=_timestamp(str(p["last_seen"])),
                source=str(p["source"]),
                confidence=float(p["confidence"]),
                sighting_id=int(p["sighting_id"]),
            )
            for p in body["people"]
        ]

    async def sighting_image(self, sighting_id: int) -> bytes:
        """The JPEG crop of a face the server kept."""
        image: bytes = await self._request("GET", f"/v1/sightings/{int(sighting_id)}/image", expect_json=False)
        return image

    async def label_sightings(self, sighting_ids: list[int], name: str) -> Labelled:
        body = await self._request(
            "POST", "/v1/sightings/label", json={"sighting_ids": [int(i) for i in sighting_ids], "name": name}
        )
        return _labelled(body)

    async def label_cluster(self, cluster_id: int, name: str) -> Labelled:
        return _labelled(await self._request("POST", f"/v1/clusters/{int(cluster_id)}/label", json={"name": name}))

    async def reject(self, sighting_id: int, name: str | None = None) -> Rejected:
        """Not this person; with ``name``, who it really is (taught at once)."""
        body = await self._request(
            "POST", f"/v1/sightings/{int(sighting_id)}/reject", json={"name": name} if name else {}
        )
        relabelled = body.get("relabelled")
        return Rejected(
            rejected=Identity.from_json(body["rejected"]),
            negative_id=int(body["negative"]["id"]),
            relabelled=_labelled(relabelled) if relabelled else None,
        )


def _labelled(body: dict[str, Any]) -> Labelled:
    return Labelled(
        identity=Identity.from_json(body["identity"]),
        created=bool(body["created"]),
        face_ids=[int(i) for i in body["face_ids"]],
        sighting_ids=[int(i) for i in body["sighting_ids"]],
    )
