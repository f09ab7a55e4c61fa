"""The capture defects nima-edge knows, shared by the generator, the training labels and the reasons.

Each name is a column ``defect_<name>`` (severity 0..1) in a synthetic labels.csv, a label of a
model's optional ``defects`` output, and a key of the reason a person is shown.
"""

DEFECTS: tuple[str, ...] = (
    "defocus",
    "motion",
    "underexposed",
    "overexposed",
    "glare",
    "incomplete",
    "lowres",
    "jpeg",
    "scrawl",
    "not_document",
)

# What to tell the person holding the phone, in words they can act on.
REASONS: dict[str, str] = {
    "defocus": "Tap to focus: the text is blurred",
    "motion": "Hold the phone steady",
    "underexposed": "Move to a brighter place",
    "overexposed": "Too much light: move out of direct light",
    "glare": "Tilt the page to remove the glare",
    "incomplete": "Fit the whole prescription in the frame",
    "lowres": "Move closer",
    "jpeg": "Image is too compressed: retake at full quality",
    "scrawl": "Handwriting is illegible: ask the prescriber for a clearer copy",
    "not_document": "This does not look like a prescription",
}
