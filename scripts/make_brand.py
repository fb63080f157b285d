"""Draw the integration's brand images (custom_components/hailo_face/brand/), which Home Assistant
(2026.3 and newer) serves for a custom integration: icon 256 px and 512 px, logo (and dark_logo) 128 px and 256 px high.

    .venv/bin/python scripts/make_brand.py

The same picture as the app's icon: a face in a camera's focus brackets.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
BRAND = ROOT / "custom_components" / "hailo_face" / "brand"
BLUE, YELLOW, WHITE, TEXT = (21, 101, 192, 255), (255, 193, 7, 255), (255, 255, 255, 255), (33, 33, 33, 255)
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def icon(size: int) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 6, fill=BLUE)
    width = s // 28
    inset, arm = s // 7, s // 5
    for x, dx in ((inset, 1), (s - inset, -1)):
        for y, dy in ((inset, 1), (s - inset, -1)):
            draw.line((x, y, x + dx * arm, y), fill=YELLOW, width=width)
            draw.line((x, y, x, y + dy * arm), fill=YELLOW, width=width)
    face = (s * 0.3, s * 0.24, s * 0.7, s * 0.76)
    draw.ellipse(face, outline=WHITE, width=width)
    eye = s // 28
    for ex in (s * 0.43, s * 0.57):
        draw.ellipse((ex - eye, s * 0.44 - eye, ex + eye, s * 0.44 + eye), fill=WHITE)
    draw.arc((s * 0.41, s * 0.46, s * 0.59, s * 0.64), start=20, end=160, fill=WHITE, width=width)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int, colour: tuple[int, int, int, int] = TEXT) -> Image.Image:
    font = ImageFont.truetype(str(FONT), int(height * 0.42))
    text = "Hailo Face"
    left, top, right, bottom = font.getbbox(text)
    gap = height // 5
    image = Image.new("RGBA", (height + gap + right - left + gap // 2, height), (0, 0, 0, 0))
    image.paste(icon(height), (0, 0))
    ImageDraw.Draw(image).text(
        (height + gap - left, (height - (bottom - top)) // 2 - top), text, font=font, fill=colour
    )
    return image


def main() -> None:
    BRAND.mkdir(parents=True, exist_ok=True)
    icon(256).save(BRAND / "icon.png", optimize=True)
    icon(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(128).save(BRAND / "logo.png", optimize=True)
    logo(256).save(BRAND / "logo@2x.png", optimize=True)
    logo(128, WHITE).save(BRAND / "dark_logo.png", optimize=True)  # on a dark theme
    logo(256, WHITE).save(BRAND / "dark_logo@2x.png", optimize=True)
    for path in sorted(BRAND.iterdir()):
        print(path.relative_to(ROOT), Image.open(path).size)


if __name__ == "__main__":
    main()
