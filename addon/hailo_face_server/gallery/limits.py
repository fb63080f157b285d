"""How large the gallery may grow, and the errors that say it is full."""

from __future__ import annotations

from dataclasses import dataclass

from hailo_face_server.errors import FaceServiceError
from hailo_face_server.gallery.importing import IMPORT_TIME_LIMIT, MAX_IMPORT_FACES, MAX_IMPORT_IDENTITIES

MAX_SAMPLES_PER_PERSON = 200
MAX_GALLERY_MB = 1000.0


class TooManySamples(FaceServiceError):
    """A person has as many face samples as database.max_samples_per_person allows (HTTP 409)."""

    code = "too_many_samples"


class GalleryFull(FaceServiceError):
    """The gallery file would grow past database.max_gallery_mb (HTTP 507)."""

    code = "gallery_full"


@dataclass(frozen=True)
class GalleryLimits:
    max_samples_per_person: int = MAX_SAMPLES_PER_PERSON
    max_gallery_mb: float = MAX_GALLERY_MB
    # One import at most: rows of the file read, and the time to read and check them.
    max_import_identities: int = MAX_IMPORT_IDENTITIES
    max_import_faces: int = MAX_IMPORT_FACES
    import_time_limit: float = IMPORT_TIME_LIMIT

    @property
    def max_gallery_bytes(self) -> int:
        return int(self.max_gallery_mb * 1024 * 1024)

    def check_samples(self, name: str, total: int, *, importing: bool = False) -> None:
        """TooManySamples when ``name`` would have ``total`` samples, more than allowed."""
        limit = self.max_samples_per_person
        if total <= limit:
            return
        if importing:
            raise TooManySamples(
                f'The import would give "{name}" {total} face samples; database.max_samples_per_person '
                f"allows {limit}. Delete some of their samples (here or in the file) or raise the setting, "
                "then import again.",
                name=name,
                limit=limit,
            )
        raise TooManySamples(
            f'"{name}" already has {total - 1} face samples, the most database.max_samples_per_person allows '
            f"({limit}). Delete some of their samples (DELETE /v1/database/<name>/faces/<id>) or raise the setting.",
            name=name,
            limit=limit,
        )

    def check_size(self, size_bytes: int) -> None:
        """GalleryFull when the gallery would take ``size_bytes``, more than allowed."""
        if size_bytes <= self.max_gallery_bytes:
            return
        raise GalleryFull(
            f"The gallery would grow to {size_bytes / 2**20:.1f} MB, more than database.max_gallery_mb "
            f"({self.max_gallery_mb:g} MB). Delete people or face samples you no longer need, "
            "or raise the setting.",
            limit_mb=self.max_gallery_mb,
        )
