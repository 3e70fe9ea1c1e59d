"""Gradio app the Tempera tests run for real (and that a user can run to try the gradio backend).

    GRADIO_SERVER_PORT=7860 python testkit/gradio/tempera_app.py
    GRADIO_SERVER_PORT=7861 TEMPERA_GRADIO_AUTH=user:secret python testkit/gradio/tempera_app.py

Endpoints (api_name):
  /generate  prompt, steps, size -> a PNG whose colour comes from the prompt; gr.Progress over the steps
  /invert    image, strength -> the image inverted (PNG in, PNG out)
  /stream    prompt, frames -> a generator: intermediate images, then the last one
  /fail      prompt -> raises gr.Error with a message the user should read
  /crash     prompt -> raises an ordinary exception (its message stays hidden: no show_error)
  /slow      seconds -> an async job that sleeps (with progress) so it can be cancelled
  /slow_stats -> how many /slow runs started, finished and were cancelled
With TEMPERA_GRADIO_AUTH=user:password the whole app needs a login.
"""

import asyncio
import hashlib
import os
import time

import gradio as gr
from PIL import Image, ImageOps


def colour(prompt: str):
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return digest[0], digest[1], digest[2]


def generate(prompt: str, steps: int, size: int, progress=gr.Progress()):
    steps = int(steps)
    for i in progress.tqdm(range(steps), desc="Painting"):
        time.sleep(0.05)
    return Image.new("RGB", (int(size), int(size)), colour(prompt))


def invert(image: Image.Image, strength: float):
    if image is None:
        raise gr.Error("An image is needed")
    return ImageOps.invert(image.convert("RGB"))


def stream(prompt: str, frames: int):
    r, g, b = colour(prompt)
    frames = int(frames)
    for i in range(1, frames + 1):
        time.sleep(0.1)
        yield Image.new("RGB", (16, 16), (r * i // frames, g * i // frames, b * i // frames))


def fail(prompt: str):
    raise gr.Error("The model refused the prompt: " + prompt)


def crash(prompt: str):
    raise ValueError("a secret internal detail " + prompt)


SLOW = {"started": 0, "finished": 0, "cancelled": 0}


async def slow(seconds: float, progress=gr.Progress()):
    SLOW["started"] += 1
    steps = max(1, int(float(seconds) * 10))
    try:
        for i in range(steps):
            progress((i, steps), desc="Sleeping")
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        SLOW["cancelled"] += 1
        raise
    SLOW["finished"] += 1
    return Image.new("RGB", (8, 8), (0, 0, 0))


def slow_stats():
    return "started={started} finished={finished} cancelled={cancelled}".format(**SLOW)


with gr.Blocks(analytics_enabled=False) as demo:
    prompt = gr.Textbox(label="Prompt")
    steps = gr.Number(label="Steps", value=5, precision=0)
    size = gr.Number(label="Size", value=32, precision=0)
    seconds = gr.Number(label="Seconds", value=30)
    frames = gr.Number(label="Frames", value=4, precision=0)
    strength = gr.Slider(0, 1, value=1, label="Strength")
    image_in = gr.Image(label="Image", type="pil", format="png")
    image_out = gr.Image(label="Result", type="pil", format="png")
    run = gr.Button("Run")
    run.click(generate, [prompt, steps, size], image_out, api_name="generate")
    run.click(invert, [image_in, strength], image_out, api_name="invert")
    run.click(stream, [prompt, frames], image_out, api_name="stream")
    run.click(fail, [prompt], image_out, api_name="fail")
    run.click(crash, [prompt], image_out, api_name="crash")
    run.click(slow, [seconds], image_out, api_name="slow")
    stats = gr.Textbox(label="Slow runs")
    run.click(slow_stats, None, stats, api_name="slow_stats")

if __name__ == "__main__":
    auth = os.environ.get("TEMPERA_GRADIO_AUTH")
    demo.queue(default_concurrency_limit=4).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        auth=tuple(auth.split(":", 1)) if auth else None,
        share=False,
        show_error=False,
        prevent_thread_lock=False,
    )
