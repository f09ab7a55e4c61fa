"""Flat paper documents drawn with OpenCV: prescriptions, receipts, forms, letters, handwritten notes.

A page is drawn at the pixel scale it will have in the photo (so no detail is invented or lost by
resampling later), from a layout measured in millimetres so that text size relative to the page is
realistic for A4, A5 and half-page pads. Randomness comes from one generator whose number of draws
does not depend on the scrawl severity, so "the same page, scrawled more" is possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import text as words

PRINT_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
HAND_FONTS = (
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
    cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
)

# Page formats in millimetres (width, height) per document kind.
FORMATS = {
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "half": (210.0, 140.0),
}
PAPER_TINTS_BGR = (
    (246, 248, 250),
    (225, 240, 248),
    (240, 238, 232),
    (232, 236, 246),
    (226, 242, 232),
    (236, 236, 236),
    (214, 232, 240),
)
INKS_BGR = {"blue": (150, 60, 25), "black": (40, 35, 35), "darkblue": (110, 40, 30)}
ACCENTS_BGR = ((120, 60, 20), (40, 110, 30), (40, 30, 130), (110, 70, 60), (30, 30, 30))
STAMP_BGR = ((170, 60, 60), (60, 50, 170), (140, 50, 120))


@dataclass
class Page:
    """A rendered document and the facts the label needs about it."""

    image: np.ndarray  # BGR uint8, the flat page
    kind: str  # prescription | receipt | form | letter | handwritten_note
    char_height: float  # cap height in page pixels of the smallest text that matters
    paper_bgr: tuple[float, float, float]  # paper colour 0..1
    ink_bgr: tuple[float, float, float]  # colour of the main ink 0..1
    handwritten: bool  # main content written by hand (scrawl applies to it)


def _cap_height(font: int) -> float:
    (_, height), _ = cv2.getTextSize("H", font, 1.0, 1)
    return float(height)


_CAP = {font: _cap_height(font) for font in PRINT_FONTS + HAND_FONTS}


class Canvas:
    """A page being drawn: paper, a millimetre scale and a text cursor."""

    def __init__(
        self,
        rng: np.random.Generator,
        size_mm: tuple[float, float],
        long_side_px: int,
        tint: tuple[int, int, int],
    ):
        self.rng = rng
        width_mm, height_mm = size_mm
        self.px_per_mm = long_side_px / max(width_mm, height_mm)
        self.width = max(32, round(width_mm * self.px_per_mm))
        self.height = max(32, round(height_mm * self.px_per_mm))
        self.image = _paper(rng, self.width, self.height, tint)
        self.margin = 12 * self.px_per_mm
        self.y = self.margin

    def mm(self, value: float) -> float:
        return value * self.px_per_mm

    def room(self, height_px: float) -> bool:
        return self.y + height_px < self.height - self.margin

    def put(
        self,
        text: str,
        x: float,
        cap_px: float,
        font: int,
        color: tuple[int, int, int],
        thickness: int | None = None,
        max_width: float | None = None,
    ) -> float:
        """Print one line with its baseline at the cursor; returns the width drawn in pixels."""
        scale = cap_px / _CAP[font & 0xF]
        if thickness is None:
            thickness = max(1, round(cap_px / 11))
        limit = (self.width - self.margin - x) if max_width is None else max_width
        (w, _), _ = cv2.getTextSize(text, font, scale, thickness)
        while w > limit and " " in text:  # drop words, not shrink: the body text size is a label input
            text = text.rsplit(" ", 1)[0]
            (w, _), _ = cv2.getTextSize(text, font, scale, thickness)
        if w > limit:
            return 0.0
        cv2.putText(self.image, text, (int(x), int(self.y)), font, scale, color, thickness, cv2.LINE_AA)
        return float(w)

    def handwrite(
        self,
        text: str,
        x: float,
        cap_px: float,
        color: tuple[int, int, int],
        font: int,
        scrawl: float,
        max_width: float | None = None,
    ) -> None:
        """Handwriting-like text: script glyphs, slant, a wandering baseline; scrawl distorts it more.

        The same number of random draws is made whatever `scrawl` is, so a page's twin with more
        scrawl differs only in how the strokes are distorted.
        """
        rng = self.rng
        slant, wobble_amp, wobble_freq, phase, squash_jitter = rng.uniform(-0.1, 0.45), *rng.uniform(0, 1, 4)
        jitter = rng.standard_normal(16)
        scale = cap_px / _CAP[font & 0xF]
        thickness = max(1, round(cap_px / 9 * (1 + 0.8 * scrawl)))
        limit = (self.width - self.margin - x) if max_width is None else max_width
        squash = (1.0 - 0.45 * scrawl) * (0.95 + 0.1 * squash_jitter)
        (w, h), base = cv2.getTextSize(text, font, scale, thickness)
        while w * squash > limit and " " in text:
            text = text.rsplit(" ", 1)[0]
            (w, h), base = cv2.getTextSize(text, font, scale, thickness)
        pad = int(cap_px * 1.2) + thickness
        patch = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)
        cv2.putText(patch, text, (pad, pad + h), font, scale, 255, thickness, cv2.LINE_AA)
        ph, pw = patch.shape
        out_w = int(pw * squash) + 1
        xs = np.arange(out_w, dtype=np.float32)  # output columns
        ys = np.arange(ph, dtype=np.float32)
        amp = cap_px * (0.06 + 0.10 * wobble_amp + 0.35 * scrawl)
        freq = (0.5 + wobble_freq) / max(cap_px * 3.0, 1.0) * (1 + 1.5 * scrawl)
        knots = np.interp(xs, np.linspace(0, out_w, jitter.size), jitter).astype(np.float32)
        wave = amp * np.sin(xs * freq * 2 * np.pi + phase * 6.28) + knots * cap_px * 0.25 * scrawl
        total_slant = slant + 0.5 * scrawl * (jitter[0] > 0)
        # Geometric distortion as one remap: squash, slant, baseline wave, per-glyph jitter.
        map_x = (xs[None, :] + knots[None, :] * cap_px * 0.3 * scrawl) / squash - total_slant * (
            ys[:, None] - (pad + h)
        )
        map_y = np.broadcast_to(ys[:, None] + wave[None, :], (ph, out_w))
        warped = cv2.remap(
            patch,
            map_x.astype(np.float32),
            np.ascontiguousarray(map_y, np.float32),
            cv2.INTER_LINEAR,
            borderValue=0,
        )
        self.blend(warped, int(x) - pad, int(self.y) - pad - h, color, 0.92)

    def blend(self, mask: np.ndarray, x0: int, y0: int, color: tuple[int, int, int], opacity: float) -> None:
        """Lay ink of `color` through an 8-bit coverage mask at (x0, y0), clipped to the page."""
        mh, mw = mask.shape
        x1, y1 = max(x0, 0), max(y0, 0)
        x2, y2 = min(x0 + mw, self.width), min(y0 + mh, self.height)
        if x2 <= x1 or y2 <= y1:
            return
        alpha = mask[y1 - y0 : y2 - y0, x1 - x0 : x2 - x0].astype(np.float32) * (opacity / 255.0)
        region = self.image[y1:y2, x1:x2].astype(np.float32)
        ink = np.array(color, np.float32)
        # Ink absorbs light: multiply-blend, so ink over a stamp gets darker, not replaced.
        region *= 1.0 - alpha[..., None] * (1.0 - ink / 255.0)
        self.image[y1:y2, x1:x2] = region.astype(np.uint8)

    def rule(
        self,
        y: float,
        color: tuple[int, int, int],
        thickness: int = 1,
        x0: float | None = None,
        x1: float | None = None,
    ) -> None:
        x0 = self.margin if x0 is None else x0
        x1 = self.width - self.margin if x1 is None else x1
        cv2.line(self.image, (int(x0), int(y)), (int(x1), int(y)), color, thickness, cv2.LINE_AA)


def _paper(rng: np.random.Generator, width: int, height: int, tint: tuple[int, int, int]) -> np.ndarray:
    """Tinted paper with a faint low-frequency mottle (a tiny noise grid, upsampled in one resize)."""
    grid = rng.standard_normal((6, 6)).astype(np.float32) * rng.uniform(1.5, 4.0)
    small = np.clip(np.array(tint, np.float32)[None, None, :] + grid[..., None], 0, 255)
    return cv2.resize(small.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)


def _signature(canvas: Canvas, x: float, cap_px: float, color: tuple[int, int, int]) -> None:
    rng = canvas.rng
    n = 40
    angles = np.cumsum(rng.normal(0, 0.9, n)) + rng.uniform(0, 6.28)
    steps = cap_px * rng.uniform(0.35, 0.7)
    pts = np.stack([np.cumsum(np.cos(angles) * steps + cap_px * 0.25), np.cumsum(np.sin(angles) * steps)], 1)
    pts[:, 1] = np.clip(pts[:, 1], -cap_px * 1.5, cap_px * 1.5)
    pts += np.array([x, canvas.y])
    thickness = max(1, round(cap_px / 8))
    cv2.polylines(canvas.image, [pts.astype(np.int32)], False, color, thickness, cv2.LINE_AA)


def _stamp(canvas: Canvas, cx: float, cy: float, cap_px: float, name: str) -> None:
    rng = canvas.rng
    color = STAMP_BGR[int(rng.integers(len(STAMP_BGR)))]
    radius = int(cap_px * rng.uniform(3.0, 4.5))
    size = 2 * radius + 4
    mask = np.zeros((size, size), np.uint8)
    c = (size // 2, size // 2)
    thick = max(1, radius // 18)
    if rng.random() < 0.5:
        cv2.circle(mask, c, radius, 255, thick, cv2.LINE_AA)
        cv2.circle(mask, c, int(radius * 0.8), 255, max(1, thick // 2), cv2.LINE_AA)
    else:
        cv2.rectangle(mask, (4, size // 4), (size - 4, 3 * size // 4), 255, thick, cv2.LINE_AA)
    label = name.upper()[:12]
    scale = radius * 1.5 / max(1.0, cv2.getTextSize(label, cv2.FONT_HERSHEY_DUPLEX, 1.0, 1)[0][0])
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_DUPLEX, scale, 1)
    cv2.putText(
        mask,
        label,
        (c[0] - tw // 2, c[1] + th // 2),
        cv2.FONT_HERSHEY_DUPLEX,
        scale,
        255,
        max(1, thick // 2),
        cv2.LINE_AA,
    )
    rot = cv2.getRotationMatrix2D(c, float(rng.uniform(-30, 30)), 1.0)
    mask = cv2.warpAffine(mask, rot, (size, size))
    canvas.blend(mask, int(cx - size / 2), int(cy - size / 2), color, float(rng.uniform(0.5, 0.85)))


def _body_cap_mm(rng: np.random.Generator, handwritten: bool) -> float:
    return float(rng.uniform(3.0, 4.6) if handwritten else rng.uniform(2.1, 3.0))


def _vitals_column(
    canvas: Canvas,
    cap: float,
    small: float,
    font: int,
    hand_font: int,
    ink: tuple[int, int, int],
    handwritten: bool,
    scrawl: float,
) -> float:
    """Complaints, findings and vitals down the left third, a rule beside them; returns the new indent."""
    rng = canvas.rng
    top, width = canvas.y, canvas.width * 0.3
    entries = (
        ("C/O", words.pick(rng, ("Fever", "Cough", "Headache", "Body ache", "Sore throat", "Acidity"))),
        ("BP", f"{int(rng.integers(100, 160))}/{int(rng.integers(60, 100))}"),
        ("Pulse", f"{int(rng.integers(60, 110))}/min"),
        ("Wt", f"{int(rng.integers(8, 95))} kg"),
        ("Temp", f"{rng.uniform(97, 102):.1f} F"),
    )
    for label, value in entries:
        if not canvas.room(cap * 3):
            break
        w = canvas.put(label + ":", canvas.margin, small, font, (70, 70, 70))
        if handwritten:
            canvas.handwrite(
                value, canvas.margin + w + canvas.mm(2), cap * 0.9, ink, hand_font, scrawl, width - w
            )
        else:
            canvas.put(
                value, canvas.margin + w + canvas.mm(2), small, font, (25, 25, 25), max_width=width - w
            )
        canvas.y += cap * 2.4
    x = canvas.margin + width + canvas.mm(2)
    cv2.line(canvas.image, (int(x), int(top - cap)), (int(x), int(canvas.y)), (170, 170, 170), 1, cv2.LINE_AA)
    canvas.y = top
    return x + canvas.mm(3)


def _prescription(canvas: Canvas, scrawl: float, handwritten: bool) -> tuple[float, bool]:
    rng = canvas.rng
    accent = ACCENTS_BGR[int(rng.integers(len(ACCENTS_BGR)))]
    ink = INKS_BGR["blue" if rng.random() < 0.6 else "black"]
    head_font = PRINT_FONTS[int(rng.integers(4))]
    body_font = PRINT_FONTS[int(rng.integers(4))] | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
    hand_font = HAND_FONTS[int(rng.integers(len(HAND_FONTS)))]
    cap = canvas.mm(_body_cap_mm(rng, handwritten))
    small = canvas.mm(rng.uniform(2.0, 2.6))
    doctor = words.person(rng)
    clinic = words.clinic_name(rng)
    centred = rng.random() < 0.5
    # Letterhead.
    canvas.y += canvas.mm(7)
    big = canvas.mm(rng.uniform(5.0, 7.0))
    x = canvas.margin
    if rng.random() < 0.6:  # a logo: a cross in a circle
        r = int(big * 0.9)
        cx, cy = int(canvas.margin + r), int(canvas.y - big / 2)
        cv2.circle(canvas.image, (cx, cy), r, accent, max(1, r // 8), cv2.LINE_AA)
        cv2.line(canvas.image, (cx - r // 2, cy), (cx + r // 2, cy), accent, max(2, r // 4), cv2.LINE_AA)
        cv2.line(canvas.image, (cx, cy - r // 2), (cx, cy + r // 2), accent, max(2, r // 4), cv2.LINE_AA)
        x += 2.6 * r
    if centred:
        x = max(x, canvas.width * rng.uniform(0.18, 0.3))
    canvas.put(clinic, x, big, head_font, accent, thickness=max(1, int(big / 8)))
    canvas.y += small * 2.0
    canvas.put(f"Dr. {doctor}, {words.pick(rng, words.DEGREES)}", x, small * 1.2, head_font, accent)
    canvas.y += small * 1.9
    canvas.put(f"{words.address(rng)}  {words.phone(rng)}", x, small, body_font, accent)
    canvas.y += small * 1.2
    canvas.rule(canvas.y, accent, max(1, int(canvas.mm(0.6))))
    canvas.y += canvas.mm(9)
    # Patient fields: printed labels, handwritten (or printed) values.
    label_ink = (60, 60, 60)
    fields = (
        ("Name:", words.person(rng)),
        ("Age/Sex:", f"{int(rng.integers(2, 90))} / {'MF'[int(rng.integers(2))]}"),
        ("Date:", words.date(rng)),
    )
    col = canvas.margin
    for i, (label, value) in enumerate(fields):
        if i == 1:
            col = canvas.width * 0.55
        if i == 2:
            col = canvas.margin
            canvas.y += cap * 2.2
        w = canvas.put(label, col, small, body_font, label_ink)
        canvas.rule(canvas.y + 3, (150, 150, 150), 1, col + w + 4, col + w + canvas.mm(55))
        if handwritten:
            canvas.handwrite(value, col + w + canvas.mm(3), cap, ink, hand_font, scrawl, canvas.mm(50))
        else:
            canvas.put(value, col + w + canvas.mm(3), small * 1.1, body_font, (20, 20, 20))
    canvas.y += cap * 3.0
    # A left column of complaints and vitals, as many clinics print, narrows the medicines.
    indent = canvas.margin
    if rng.random() < 0.35:
        indent = _vitals_column(canvas, cap, small, body_font, hand_font, ink, handwritten, scrawl)
    # Rx mark and medicine lines.
    canvas.put(
        "Rx",
        indent,
        cap * 2.0,
        cv2.FONT_HERSHEY_TRIPLEX | cv2.FONT_ITALIC,
        accent,
        thickness=max(2, int(cap / 5)),
    )
    canvas.y += cap * 2.6
    n_lines = int(rng.integers(2, 9))
    ruled = rng.random() < 0.3
    for i in range(n_lines):
        if not canvas.room(cap * 3):
            break
        line = f"{i + 1}. {words.medicine_line(rng)}"
        if ruled:
            canvas.rule(canvas.y + cap * 0.4, (210, 190, 170), 1)
        if handwritten:
            canvas.handwrite(line, indent + canvas.mm(6), cap, ink, hand_font, scrawl)
        else:
            canvas.put(line, indent + canvas.mm(6), cap, body_font, (25, 25, 25))
        canvas.y += cap * rng.uniform(2.2, 2.9)
    if canvas.room(cap * 3) and rng.random() < 0.6:
        canvas.y += cap
        advice = words.pick(rng, words.INSTRUCTIONS)
        if handwritten:
            canvas.handwrite(advice, canvas.margin, cap, ink, hand_font, scrawl)
        else:
            canvas.put(advice, canvas.margin, cap, body_font, (25, 25, 25))
    # Signature and stamp near the bottom right.
    canvas.y = max(canvas.y + cap * 3, canvas.height - canvas.margin - canvas.mm(22))
    if canvas.y < canvas.height - canvas.margin:
        sx = canvas.width * rng.uniform(0.55, 0.68)
        _signature(canvas, sx, cap * 1.2, ink)
        canvas.y += cap * 2.5
        canvas.put(f"Dr. {doctor}", sx, small, body_font, label_ink)
        if rng.random() < 0.6:
            _stamp(canvas, canvas.width * rng.uniform(0.2, 0.45), canvas.y - cap * 3, cap, clinic.split()[0])
    return cap, handwritten


def _receipt(canvas: Canvas, scrawl: float, handwritten: bool) -> tuple[float, bool]:
    rng = canvas.rng
    font = PRINT_FONTS[int(rng.integers(len(PRINT_FONTS)))]
    cap = canvas.mm(rng.uniform(1.9, 2.6))
    ink = (60, 60, 60) if rng.random() < 0.5 else (30, 30, 30)  # thermal prints fade
    canvas.y += cap * 2
    canvas.put(
        words.pick(rng, words.CLINIC_WORDS).upper() + " MART",
        canvas.margin + canvas.mm(4),
        cap * 1.6,
        font,
        ink,
    )
    canvas.y += cap * 2.2
    canvas.put(words.address(rng), canvas.margin, cap * 0.9, font, ink)
    canvas.y += cap * 2.4
    total = 0.0
    while canvas.room(cap * 6):
        price = float(rng.integers(10, 2000)) / 10
        total += price
        canvas.put(words.pick(rng, words.SHOP_ITEMS), canvas.margin, cap, font, ink)
        canvas.put(f"{price:7.2f}", canvas.width - canvas.margin - canvas.mm(16), cap, font, ink)
        canvas.y += cap * 1.9
        if rng.random() < 0.08:
            break
    canvas.rule(canvas.y - cap * 0.6, ink, 1)
    canvas.y += cap * 1.2
    canvas.put(f"TOTAL {total:9.2f}", canvas.margin, cap * 1.3, font, ink)
    canvas.y += cap * 2.4
    canvas.put(words.date(rng) + "  THANK YOU", canvas.margin, cap * 0.9, font, ink)
    return cap, False


def _form(canvas: Canvas, scrawl: float, handwritten: bool) -> tuple[float, bool]:
    rng = canvas.rng
    font = PRINT_FONTS[int(rng.integers(4))]
    ink = INKS_BGR["blue" if rng.random() < 0.6 else "black"]
    hand_font = HAND_FONTS[int(rng.integers(len(HAND_FONTS)))]
    cap = canvas.mm(rng.uniform(2.2, 3.0))
    hand_cap = canvas.mm(rng.uniform(3.0, 4.2))
    canvas.y += canvas.mm(8)
    canvas.put(
        f"{words.pick(rng, words.CLINIC_WORDS)} Insurance - Claim Form",
        canvas.margin,
        cap * 1.8,
        font,
        (40, 40, 40),
        thickness=max(1, int(cap / 6)),
    )
    canvas.y += cap * 3
    box_h = hand_cap * 2.6
    while canvas.room(box_h * 1.4):
        top = int(canvas.y)
        cv2.rectangle(
            canvas.image,
            (int(canvas.margin), top),
            (int(canvas.width - canvas.margin), int(top + box_h)),
            (90, 90, 90),
            1,
            cv2.LINE_AA,
        )
        canvas.y = top + cap * 1.5
        canvas.put(
            words.pick(rng, words.FORM_FIELDS), canvas.margin + canvas.mm(1.5), cap * 0.8, font, (90, 90, 90)
        )
        canvas.y = top + box_h * 0.85
        canvas.handwrite(
            words.person(rng) if rng.random() < 0.5 else words.address(rng),
            canvas.margin + canvas.mm(30),
            hand_cap,
            ink,
            hand_font,
            scrawl,
        )
        canvas.y = top + box_h * 1.25
    return min(cap * 0.8 * 1.5, hand_cap), True


def _letter(canvas: Canvas, scrawl: float, handwritten: bool) -> tuple[float, bool]:
    rng = canvas.rng
    font = PRINT_FONTS[int(rng.integers(4))]
    cap = canvas.mm(rng.uniform(2.1, 2.8))
    canvas.y += canvas.mm(10)
    canvas.put(
        f"{words.pick(rng, words.CLINIC_WORDS)} Services Ltd.",
        canvas.margin,
        cap * 1.7,
        font,
        ACCENTS_BGR[int(rng.integers(len(ACCENTS_BGR)))],
        thickness=max(1, int(cap / 6)),
    )
    canvas.y += cap * 3
    canvas.put(words.date(rng), canvas.margin, cap, font, (30, 30, 30))
    canvas.y += cap * 3
    canvas.put(f"Dear {words.person(rng)},", canvas.margin, cap, font, (30, 30, 30))
    canvas.y += cap * 2.6
    while canvas.room(cap * 4):
        canvas.put(words.sentence(rng, 18), canvas.margin, cap, font, (30, 30, 30))
        canvas.y += cap * (2.0 if rng.random() < 0.85 else 4.0)
    return cap, False


def _note(canvas: Canvas, scrawl: float, handwritten: bool) -> tuple[float, bool]:
    rng = canvas.rng
    ink = INKS_BGR["blue" if rng.random() < 0.6 else "black"]
    font = HAND_FONTS[int(rng.integers(len(HAND_FONTS)))]
    cap = canvas.mm(rng.uniform(3.2, 4.8))
    spacing = cap * 2.5
    y = canvas.margin + spacing
    while y < canvas.height - canvas.margin / 2:  # ruled notepad lines and a red margin
        canvas.rule(y + cap * 0.4, (220, 190, 160), 1, 0, canvas.width)
        y += spacing
    cv2.line(canvas.image, (int(canvas.mm(20)), 0), (int(canvas.mm(20)), canvas.height), (140, 140, 220), 1)
    canvas.y = canvas.margin + spacing
    while canvas.room(spacing):
        text = words.medicine_line(rng) if rng.random() < 0.5 else words.sentence(rng, 6)
        canvas.handwrite(text, canvas.mm(22), cap, ink, font, scrawl)
        canvas.y += spacing
    return cap, True


DOCUMENT_KINDS = ("prescription", "receipt", "form", "letter", "handwritten_note")
_DRAW = {
    "prescription": _prescription,
    "receipt": _receipt,
    "form": _form,
    "letter": _letter,
    "handwritten_note": _note,
}


def page_format(rng: np.random.Generator, kind: str) -> tuple[float, float]:
    """Page size in mm for a document kind (receipts are long thin strips)."""
    if kind == "receipt":
        return 80.0, float(rng.uniform(140, 260))
    if kind == "prescription":
        return FORMATS[("A4", "A5", "half")[int(rng.integers(3))]]
    if kind == "handwritten_note":
        return FORMATS[("A5", "half")[int(rng.integers(2))]]
    return FORMATS["A4"]


def render_page(
    rng: np.random.Generator,
    kind: str,
    size_mm: tuple[float, float],
    long_side_px: int,
    scrawl: float = 0.0,
    handwritten: bool = True,
) -> Page:
    """Draw a document of `kind` whose longer side is `long_side_px` pixels.

    `handwritten` chooses hand or print for a prescription's patient fields and medicines (other
    kinds have a fixed style); `scrawl` 0..1 makes the handwriting messier.
    """
    tint = (
        PAPER_TINTS_BGR[int(rng.integers(len(PAPER_TINTS_BGR)))] if rng.random() < 0.6 else PAPER_TINTS_BGR[0]
    )
    canvas = Canvas(rng, size_mm, long_side_px, tint)
    char_height, handwritten = _DRAW[kind](canvas, scrawl, handwritten)
    ink = INKS_BGR["blue"] if handwritten else (30, 30, 30)
    return Page(
        canvas.image,
        kind,
        float(char_height),
        tuple(c / 255 for c in tint),
        tuple(c / 255 for c in ink),
        handwritten,
    )
