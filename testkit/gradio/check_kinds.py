"""Calls every endpoint of a running kinds_app.py with the real gradio_client of the same venv and
checks what comes back; exits non-zero, naming what differed, when anything is off.

    python testkit/gradio/check_kinds.py http://127.0.0.1:7862 [--revision 2]

Run it with the Python of the Gradio version under test (scripts/ensure-gradio.sh 4|5|6): each
Gradio release ships its own gradio_client (4.44.1: 1.3.x, 5.50.0: 1.14.x, 6.x: 2.x). The Java
smoke test (GradioAppsStartOnEveryVersionTest) runs it on every version.
"""

import hashlib
import os
import sys
import time
import wave

from gradio_client import Client
from PIL import Image

problems = []


def check(what, ok, got):
    if not ok:
        problems.append("{}: got {!r}".format(what, got))


def colour(prompt):
    d = hashlib.sha256(prompt.encode()).digest()
    return d[0], d[1], d[2]


def expect_error(what, call, text):
    try:
        got = call()
    except Exception as e:  # gradio_client raises AppError (or ValueError on older clients)
        check(what + " raises " + text, text in str(e), "{}: {}".format(type(e).__name__, e))
        return str(e)
    problems.append("{}: no error, got {!r}".format(what, got))
    return None


def main(url, revision):
    import gradio_client

    client = Client(url, verbose=False)
    version = client.config.get("version")
    print("gradio", version, "gradio_client", gradio_client.__version__)

    if revision == "2":
        check("/caption v2", client.predict("a red cat", "poetic", api_name="/caption")
              .startswith("Poetic caption: A picture of a red cat"), None)
        return

    got = client.predict("a red cat", api_name="/caption")
    check("/caption", got.startswith("A picture of a red cat (#"), got)
    got = client.predict("a red cat", api_name="/count")
    check("/count", got == 3, got)
    got = client.predict("a red cat", api_name="/describe")
    check("/describe", isinstance(got, dict) and got.get("words") == 3 and got.get("colours") == ["red"], got)
    got = client.predict("a cat and a dog", api_name="/classify")
    check("/classify", isinstance(got, dict) and got.get("label") in ("cat", "dog")
          and len(got.get("confidences", [])) == 3, got)
    got = client.predict("a red cat", api_name="/highlight")
    check("/highlight", isinstance(got, list) and {"token": "red ", "class_or_confidence": "colour"} in got, got)
    got = client.predict("x", None, api_name="/maybe")
    check("/maybe None", got == "x: negative was None", got)
    got = client.predict("x", "blurry", api_name="/maybe")
    check("/maybe given", got == "x: negative was 'blurry'", got)

    gallery, text = client.predict("a red cat", 3, api_name="/gallery_caption")
    check("/gallery_caption text", text == "3 pictures of a red cat", text)
    check("/gallery_caption count", isinstance(gallery, list) and len(gallery) == 3, gallery)
    for i, item in enumerate(gallery or []):
        with Image.open(item["image"]) as im:
            check("/gallery_caption image %d" % i, im.format == "PNG" and im.size == (8 + 4 * i, 8), (im.format, im.size))

    files = client.predict("a red cat", api_name="/files")
    names = sorted(os.path.basename(f) for f in files)
    check("/files", names == ["prompt.txt", "swatch.png"], names)
    for f in files:
        if f.endswith(".txt"):
            with open(f, encoding="utf-8") as fh:
                check("/files text", fh.read() == "a red cat\n", f)

    webp = client.predict("a red cat", api_name="/webp")
    with Image.open(webp) as im:
        check("/webp", im.format == "WEBP" and im.size == (40, 24), (im.format, im.size))

    sound = client.predict("a red cat", api_name="/audio")
    with wave.open(sound) as w:
        check("/audio", w.getframerate() == 8000 and w.getnframes() == 2000, (w.getframerate(), w.getnframes()))

    job = client.submit("w", api_name="/stream_text")
    final = job.result()
    check("/stream_text final", final == "w1 w2 w3 w4 w5", final)
    check("/stream_text outputs", job.outputs()[-1] == "w1 w2 w3 w4 w5" and len(job.outputs()) >= 2, job.outputs())

    job = client.submit("a red cat", api_name="/stream_image")
    final = job.result()
    with Image.open(final) as im:
        check("/stream_image final", im.size == (32, 32) and im.getpixel((0, 0))[:3] == colour("a red cat"),
              (im.size, im.getpixel((0, 0))))
    check("/stream_image outputs", len(job.outputs()) >= 2, job.outputs())

    got = client.predict("fire", api_name="/warn")
    check("/warn", got == "warned about fire", got)

    message = expect_error("/refuse", lambda: client.predict("a dog", api_name="/refuse"),
                           "The prompt is not allowed: a dog")
    print("/refuse message:", repr(message))

    got = client.predict("x", api_name="/nothing")
    check("/nothing", got is None, got)

    start = time.monotonic()
    got = client.predict(0.5, api_name="/slow_text")
    check("/slow_text", got == "slept 0.5 s" and time.monotonic() - start >= 0.5, got)


if __name__ == "__main__":
    revision = "1"
    args = sys.argv[1:]
    if "--revision" in args:
        revision = args[args.index("--revision") + 1]
    main(args[0], revision)
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("all endpoints answered as expected")
