"""What each automatic check means, in the words of the person reading a report (a product manager, not the
author of the check): the one place pages and reports take a check's explanation from."""

from __future__ import annotations

# Check name -> what it says about an output when it fails. Names with a part after the dot share the
# explanation of their family unless they have their own.
MEANINGS: dict[str, str] = {
    "decodes": "the image that came back is broken: it cannot be opened",
    "size": "the image has another shape than the person photo (wrong aspect ratio)",
    "size.resized": "the image came back at another size than the person photo (same shape)",
    "blank": "the image is (nearly) one flat colour: no picture at all",
    "product_returned": "the service sent the product photo back instead of a try-on",
    "noop": "the person photo came back (nearly) unchanged: nothing was tried on",
    "preservation": "the person or the background changed outside where the product goes",
    "preservation.changed_share": "too much of the person or background changed colour outside where the product "
                                  "goes (past the hard limit: the whole photo was repainted)",
    "preservation.ssim": "the person or background lost detail outside where the product goes (blurred, redrawn)",
    "change_in_region": "almost nothing changed where the product goes: the product is probably missing",
    "placement": "the image changed, but not where the product goes: the product landed in the wrong place",
    "fidelity": "what was put on the person does not look like the product that was sent",
    "fidelity.colour": "what was put on the person has other colours than the product that was sent",
    "fidelity.texture": "what was put on the person is plainer or more patterned than the product that was sent",
    "identity": "the face in the result is not quite the person's face any more",
    "body": "the person's body moved or changed pose (an arm, a leg, the head) between the photo and the result",
    "body.scale": "the person came back larger or smaller than in the photo",
    "background": "the photo around the person was replaced or repainted",
    "reference": "the result looks far from the reference photo of the expected result",
    "reference.ssim": "the result's structure is far from the reference photo of the expected result",
    "reference.psnr": "the result's pixels are far from the reference photo of the expected result",
}


def meaning(name: str) -> str | None:
    """What a failed check `name` means for a reader, or None for a check this list does not know."""
    name = name.strip()
    return MEANINGS.get(name) or MEANINGS.get(name.split(".", 1)[0])
