"""Camera-like frames made from the real photographs, recognised through the HTTP API on the CPU backend.

Seven people are taught through ``POST /v1/database/add`` from their first
portrait; stuart is never taught. Their other portraits (2-5, one frame each,
eight faces a frame) and the group photo bbt3 at its native size are put on a
plausible background in 1080p and 4K frames, sent as JPEG to
``/v1/recognize``. The issue asks for every cast face found and named, no face
named as someone else, and stuart never named; the tests below say which of it
holds outright and which is held at its measured level. No image file is kept: every frame is
made here with Pillow and NumPy, the same on every run (fixed seeds).

- faces about 40 px: the 150 px portraits are tight crops (YuNet's box on them
  is 0.86 x their side wide, 1.1 x tall), so a 48 px portrait shows a face
  about 41 px wide and 52 px tall. bbt3's faces are 48-59 px wide.
- ``min_face_size=32``: below the smallest face with a margin (YuNet keeps
  boxes from 0.9 x min_face_size), and the detector then looks at the frame at
  full resolution; the default 40 shrinks it to 0.8 first.
- conditions: plain 1080p; grey, dark and noisy; rolled 20-25 degrees; blurred
  and strongly JPEG-compressed; 4K.

``pytest -s`` prints found / right / unknown / wrong / strangers named for
each condition.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageFilter

from hailo_face_server.app import create_app
from hailo_face_server.backends import BackendChoice
from hailo_face_server.backends.cpu import CpuBackend
from tests.support import PEOPLE, Faces, SharedBackend, make_config, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

Client = TestClient[web.Request, web.Application]
Centre = tuple[float, float]

STRANGER = "stuart"
CAST = tuple(name for name in PEOPLE if name != STRANGER)
TAUGHT_FROM = 1
SHOWN = (2, 3, 4, 5)
PORTRAIT_SIDE = 48
MIN_FACE_SIZE = 32
FULL_HD = (1920, 1080)
UHD = (3840, 2160)
ROLLS = (20, -21, 22, -23, 24, -25, 21, -22)  # degrees, counter-clockwise, one for each of the eight portraits
GROUP_ROLL = 22
CONDITIONS = ("plain", "dark", "rolled", "blurred", "4k")


@dataclass(frozen=True)
class Frame:
    label: str
    image: Image.Image
    people: list[tuple[str, Centre]]  # who is where (the centre of their face, frame pixels)


@dataclass(frozen=True)
class Outcome:
    """What the server said about one placed face."""

    frame: str
    person: str
    found: bool
    name: str | None = None
    similarity: float = 0.0
    box: tuple[int, int] = (0, 0)  # width, height

    def describe(self) -> str:
        if not self.found:
            return f"{self.frame}/{self.person}: not found"
        return (
            f"{self.frame}/{self.person}: named {self.name}, similarity {self.similarity:.3f}, "
            f"box {self.box[0]}x{self.box[1]}"
        )


@dataclass(frozen=True)
class Result:
    outcomes: list[Outcome]
    unplaced: list[dict[str, Any]]  # detections away from every placed face

    def cast(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.person != STRANGER]

    def strangers(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.person == STRANGER]

    def counts(self) -> dict[str, int]:
        found = [outcome for outcome in self.cast() if outcome.found]
        return {
            "cast": len(self.cast()),
            "found": len(found),
            "right": sum(outcome.name == outcome.person for outcome in found),
            "unknown": sum(outcome.name is None for outcome in found),
            "wrong": sum(outcome.name not in (None, outcome.person) for outcome in found),
            "strangers": len(self.strangers()),
            "strangers_found": sum(outcome.found for outcome in self.strangers()),
            "strangers_named": sum(outcome.name is not None for outcome in self.strangers()),
            "unplaced": len(self.unplaced),
        }


# Frames --------------------------------------------------------------------


def background(size: tuple[int, int], seed: int) -> Image.Image:
    """A wall, a room: smooth muted colour fields with sensor noise, and no face."""
    rng = np.random.default_rng(seed)
    width, height = size
    patches = rng.uniform(60, 190, (5, 9, 3))
    patches = 0.4 * patches + 0.6 * patches.mean(axis=2, keepdims=True)  # muted colours
    smooth = Image.fromarray(patches.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    noisy = np.asarray(smooth, np.float32) + rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def paste_rolled(frame: Image.Image, picture: Image.Image, centre: Centre, angle: float) -> None:
    """Paste ``picture`` turned by ``angle`` degrees (counter-clockwise) with its centre at ``centre``."""
    mask = Image.new("L", picture.size, 255)
    if angle:
        picture = picture.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    frame.paste(picture, (round(centre[0] - picture.width / 2), round(centre[1] - picture.height / 2)), mask)


def portraits_frame(faces: Faces, size: tuple[int, int], number: int, rolled: bool) -> Frame:
    """The eight people's portraits ``number``, ``PORTRAIT_SIDE`` px each, scattered over a 4 x 2 grid."""
    frame = background(size, seed=number)
    rng = np.random.default_rng(100 + number)
    width, height = size
    people: list[tuple[str, Centre]] = []
    for i, name in enumerate(PEOPLE):
        portrait = Image.open(faces.person(name, number)).convert("RGB")
        portrait = portrait.resize((PORTRAIT_SIDE, PORTRAIT_SIDE), Image.Resampling.LANCZOS)
        column, row = (i + number) % 4, i // 4  # each frame puts people elsewhere
        centre = (
            round(width * (2 * column + 1) / 8 + rng.uniform(-width / 20, width / 20)),
            round(height * (2 * row + 1) / 4 + rng.uniform(-height / 10, height / 10)),
        )
        paste_rolled(frame, portrait, centre, ROLLS[i] if rolled else 0)
        people.append((name, (float(centre[0]), float(centre[1]))))
    return Frame(f"portraits{number}", frame, people)


def group_frame(faces: Faces, size: tuple[int, int], rolled: bool) -> Frame:
    """bbt3 at its native size (faces 48-59 px wide) in the frame, rolled by ``GROUP_ROLL`` degrees if asked."""
    frame = background(size, seed=50)
    group = Image.open(faces.group("bbt3.jpg")).convert("RGB")
    angle = GROUP_ROLL if rolled else 0
    centre = np.array([size[0] * 0.4, size[1] * 0.55])
    paste_rolled(frame, group, (float(centre[0]), float(centre[1])), angle)
    turn = np.deg2rad(angle)  # counter-clockwise on screen, where y grows downwards
    rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    middle = np.array(group.size) / 2
    people: list[tuple[str, Centre]] = []
    for label in faces.labels()["bbt3.jpg"]:
        x, y = rotation @ (np.array(label["center"], dtype=np.float64) - middle) + centre
        people.append((str(label["name"]), (float(x), float(y))))
    return Frame("bbt3", frame, people)


def grey_dark_noisy(image: Image.Image, seed: int) -> Image.Image:
    """A camera at dusk: grey (night mode), 35 % of the light, and strong sensor noise."""
    grey = np.asarray(image.convert("L"), np.float32) * 0.35
    noisy = grey + np.random.default_rng(seed).normal(0, 6, grey.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def encode(condition: str, frame: Frame, seed: int) -> bytes:
    if condition == "dark":
        return jpeg(grey_dark_noisy(frame.image, seed))
    if condition == "blurred":
        return jpeg(frame.image.filter(ImageFilter.GaussianBlur(1.2)), quality=30)
    return jpeg(frame.image)


def frames(faces: Faces, condition: str) -> list[Frame]:
    size = UHD if condition == "4k" else FULL_HD
    rolled = condition == "rolled"
    return [portraits_frame(faces, size, number, rolled) for number in SHOWN] + [group_frame(faces, size, rolled)]


# The server ----------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(
    cpu_backend: CpuBackend, faces: Faces, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    """The real app over HTTP on the CPU backend and its default detector (YuNet), the cast taught."""
    assert cpu_backend.info.models["detector"] == "yunet_2023mar"
    config = make_config(tmp_path_factory.mktemp("camera"))
    app = create_app(config, backend_factory=lambda _config: BackendChoice(SharedBackend(cpu_backend)))
    async with TestClient(TestServer(app)) as running:

        async def ready() -> bool:
            return (await running.get("/health")).status == 200

        await wait_until(ready, "the server to load its models")
        for name in CAST:
            response = await running.post(
                "/v1/database/add",
                data=faces.person(name, TAUGHT_FROM).read_bytes(),
                params={"name": name},
                headers={"Content-Type": "image/png"},
            )
            assert response.status == 201, await response.text()
        yield running


def inside(box: list[float], x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def face_at(found: list[dict[str, Any]], centre: Centre) -> int | None:
    """The detection whose box holds ``centre`` (the one whose own centre is nearest, if several)."""
    x, y = centre
    holding = [i for i, face in enumerate(found) if inside(face["bbox"], x, y)]
    if not holding:
        return None

    def distance(i: int) -> float:
        x1, y1, x2, y2 = found[i]["bbox"]
        return float(np.hypot((x1 + x2) / 2 - x, (y1 + y2) / 2 - y))

    return min(holding, key=distance)


async def recognise(client: Client, faces: Faces, condition: str) -> Result:
    outcomes: list[Outcome] = []
    unplaced: list[dict[str, Any]] = []
    for seed, frame in enumerate(frames(faces, condition)):
        response = await client.post(
            "/v1/recognize",
            data=encode(condition, frame, seed),
            params={"min_face_size": str(MIN_FACE_SIZE)},
            headers={"Content-Type": "image/jpeg"},
        )
        assert response.status == 200, await response.text()
        found: list[dict[str, Any]] = (await response.json())["faces"]
        placed = set()
        for person, centre in frame.people:
            i = face_at(found, centre)
            if i is None:
                outcomes.append(Outcome(frame.label, person, found=False))
                continue
            placed.add(i)
            x1, y1, x2, y2 = found[i]["bbox"]
            outcomes.append(
                Outcome(
                    frame.label,
                    person,
                    found=True,
                    name=found[i]["name"],
                    similarity=found[i]["similarity"],
                    box=(round(x2 - x1), round(y2 - y1)),
                )
            )
        unplaced += [face for i, face in enumerate(found) if i not in placed]
    return Result(outcomes, unplaced)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results(client: Client, faces: Faces) -> dict[str, Result]:
    """Every condition's frames, recognised once for the module's tests; the counts are printed."""
    measured = {condition: await recognise(client, faces, condition) for condition in CONDITIONS}
    print("\ncondition  " + " ".join(f"{key:>15}" for key in measured["plain"].counts()))
    for condition, result in measured.items():
        print(f"{condition:10} " + " ".join(f"{value:>15}" for value in result.counts().values()))
    return measured


def failures(result: Result, wrong: Callable[[Outcome], bool]) -> list[str]:
    return [outcome.describe() for outcome in result.outcomes if wrong(outcome)]


# The issue asks for every cast face found and named, none named wrongly, strangers unnamed. What
# holds today is asserted outright; where today's CPU pipeline falls short (the 48 px tight-crop
# portraits, whose faces YuNet sees at 38-46 px, and dlib's ResNet on blurred or dark 40 px faces),
# the measured counts are floors that a regression breaks, and docs/performance.md shows the gap.
FOUND_AT_LEAST = {"plain": 28, "dark": 26, "rolled": 16, "blurred": 27, "4k": 30}
NAMED_AT_LEAST = {"plain": 27, "dark": 19, "rolled": 16, "blurred": 11, "4k": 29}
WRONG_AT_MOST = {"plain": 0, "dark": 0, "rolled": 0, "blurred": 1, "4k": 0}


@pytest.mark.parametrize("condition", CONDITIONS)
async def test_every_face_of_the_group_photo_is_found_and_none_named_wrongly(
    results: dict[str, Result], condition: str
) -> None:
    group = [outcome for outcome in results[condition].outcomes if outcome.frame == "bbt3"]
    assert len(group) == 5
    missed = [outcome.describe() for outcome in group if not outcome.found]
    assert not missed, "\n".join(missed)
    wrong = [outcome.describe() for outcome in group if outcome.name not in (None, outcome.person)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("condition", ["plain", "4k"])
async def test_in_a_plain_frame_every_face_of_the_group_photo_is_named(
    results: dict[str, Result], condition: str
) -> None:
    group = [outcome for outcome in results[condition].outcomes if outcome.frame == "bbt3"]
    unnamed = [outcome.describe() for outcome in group if outcome.name != outcome.person]
    assert not unnamed, "\n".join(unnamed)


@pytest.mark.parametrize("condition", CONDITIONS)
async def test_strangers_stay_unknown_and_nothing_is_named_on_the_background(
    results: dict[str, Result], condition: str
) -> None:
    result = results[condition]
    assert len(result.cast()) == 4 * len(CAST) + 5 and len(result.strangers()) == 4
    named = [outcome.describe() for outcome in result.strangers() if outcome.name is not None]
    named += [f"{face['name']} on the background at {face['bbox']}" for face in result.unplaced if face["name"]]
    assert not named, "\n".join(named)


@pytest.mark.parametrize("condition", CONDITIONS)
async def test_found_named_and_wrong_stay_at_their_measured_levels(results: dict[str, Result], condition: str) -> None:
    counts = results[condition].counts()
    details = "\n".join(outcome.describe() for outcome in results[condition].cast() if outcome.name != outcome.person)
    assert counts["found"] >= FOUND_AT_LEAST[condition], details
    assert counts["right"] >= NAMED_AT_LEAST[condition], details
    assert counts["wrong"] <= WRONG_AT_MOST[condition], details
