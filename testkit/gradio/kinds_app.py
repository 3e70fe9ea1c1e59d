"""A Gradio app with every kind of output the Tempera tests read, built the way people build them:
gr.Interface apps and a gr.Blocks page side by side in a gr.TabbedInterface. It runs unchanged on
Gradio 4.44.1, 5.50.0 and 6.x (scripts/ensure-gradio.sh 4|5|6; what differs on the wire per
version is in VERSIONS.md beside it).

    GRADIO_SERVER_PORT=7862 python testkit/gradio/kinds_app.py
    GRADIO_SERVER_PORT=7862 TEMPERA_APP_REVISION=2 python testkit/gradio/kinds_app.py
    GRADIO_SERVER_PORT=7862 TEMPERA_QUEUE_WARMUP=1 python testkit/gradio/kinds_app.py

Endpoints (api_name):
  /caption          prompt -> Textbox: a deterministic caption of the prompt
                    (TEMPERA_APP_REVISION=2, "the app was redeployed": subject, style -> Textbox;
                    the first parameter renamed and a second one, without a default, added)
  /count            prompt -> Number: how many words the prompt has
  /describe         prompt -> JSON: a dict about the prompt
  /classify         prompt -> Label: confidences for cat, dog and bird
  /highlight        prompt -> HighlightedText: the words, "colour" ones labelled
  /gallery_caption  prompt, count -> Gallery of `count` (default 3) small PNGs, Textbox caption
  /files            prompt -> File (multiple): a .txt and a .png
  /webp             prompt -> Image: a 40x24 WebP
  /audio            prompt -> Audio: a 0.25 s WAV tone at 8 kHz
  /stream_text      prompt -> a generator: 5 growing texts, 0.1 s apart
  /stream_image     prompt -> a generator: 4 16x16 PNGs, then a final 32x32 one
  /warn             prompt -> gr.Warning and gr.Info, then text
  /refuse           prompt -> raises gr.Error("The prompt is not allowed: <prompt>")
  /nothing          prompt -> None for a Textbox: an expected output that never comes
  /slow_text        seconds -> a plain sync function that sleeps with gr.Progress; one at a time
                    (concurrency_limit=1), so a second call waits in the queue behind the first
  /maybe            prompt, negative=None -> says whether negative was None

With TEMPERA_QUEUE_WARMUP=1 the app calls its own /slow_text once (0.3 s, with gradio_client) right
after it starts, so the queue has a timing for it and sends rank_eta and eta from the first real
call on; it prints "[tempera] queue warmed up" when done.
"""

import hashlib
import os
import tempfile
import time

import gradio as gr
import numpy as np
from PIL import Image

REVISION = os.environ.get("TEMPERA_APP_REVISION", "1")

COLOURS = ("red", "green", "blue", "yellow", "black", "white")


def colour(prompt: str):
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return digest[0], digest[1], digest[2]


def words(prompt: str):
    return prompt.split()


# gr.Interface apps: one function each.


def caption(prompt: str) -> str:
    return "A picture of " + prompt.strip() + " (#" + hashlib.sha256(prompt.encode()).hexdigest()[:6] + ")"


def caption_v2(subject: str, style: str) -> str:
    return style.capitalize() + " caption: " + caption(subject)


def count(prompt: str) -> int:
    return len(words(prompt))


def describe(prompt: str) -> dict:
    return {
        "prompt": prompt,
        "words": len(words(prompt)),
        "colour": list(colour(prompt)),
        "colours": [w for w in words(prompt) if w.lower() in COLOURS],
        "nested": {"revision": REVISION, "empty": None},
    }


def classify(prompt: str) -> dict:
    text = prompt.lower()
    scores = {"cat": 1.0 + text.count("cat"), "dog": 1.0 + text.count("dog"), "bird": 0.5}
    total = sum(scores.values())
    return {label: round(score / total, 4) for label, score in scores.items()}


def highlight(prompt: str):
    return [(w + " ", "colour" if w.lower() in COLOURS else None) for w in words(prompt)]


def maybe(prompt: str, negative: str | None = None) -> str:
    if negative is None:
        return prompt + ": negative was None"
    return prompt + ": negative was " + repr(negative)


if REVISION == "2":
    caption_app = gr.Interface(
        fn=caption_v2,
        inputs=[gr.Textbox(label="Subject"), gr.Radio(["plain", "poetic"], label="Style")],
        outputs=gr.Textbox(label="Caption"),
        api_name="caption",
        title="Caption (revision 2)",
    )
else:
    caption_app = gr.Interface(
        fn=caption,
        inputs=gr.Textbox(label="Prompt"),
        outputs=gr.Textbox(label="Caption"),
        api_name="caption",
        title="Caption",
    )
count_app = gr.Interface(
    fn=count, inputs=gr.Textbox(label="Prompt"), outputs=gr.Number(label="Words", precision=0), api_name="count"
)
describe_app = gr.Interface(
    fn=describe, inputs=gr.Textbox(label="Prompt"), outputs=gr.JSON(label="Description"), api_name="describe"
)
classify_app = gr.Interface(
    fn=classify, inputs=gr.Textbox(label="Prompt"), outputs=gr.Label(label="Animal"), api_name="classify"
)
highlight_app = gr.Interface(
    fn=highlight,
    inputs=gr.Textbox(label="Prompt"),
    outputs=gr.HighlightedText(label="Colours"),
    api_name="highlight",
)
maybe_app = gr.Interface(
    fn=maybe,
    inputs=[gr.Textbox(label="Prompt"), gr.Textbox(label="Negative prompt")],
    outputs=gr.Textbox(label="Answer"),
    api_name="maybe",
)


# A gr.Blocks page: buttons wired to functions.


def gallery_caption(prompt: str, n: float = 3):
    r, g, b = colour(prompt)
    n = int(n)
    images = [Image.new("RGB", (8 + 4 * i, 8), (r, g, (b + 40 * i) % 256)) for i in range(n)]
    return images, "{} pictures of {}".format(n, prompt)


def files(prompt: str):
    folder = tempfile.mkdtemp(prefix="tempera-kinds-")
    text = os.path.join(folder, "prompt.txt")
    with open(text, "w", encoding="utf-8") as out:
        out.write(prompt + "\n")
    picture = os.path.join(folder, "swatch.png")
    Image.new("RGB", (10, 6), colour(prompt)).save(picture)
    return [text, picture]


def webp(prompt: str):
    return Image.new("RGB", (40, 24), colour(prompt))


def audio(prompt: str):
    rate = 8000
    t = np.arange(rate // 4) / rate
    pitch = 220 + len(prompt) * 10
    return rate, (np.sin(2 * np.pi * pitch * t) * 12000).astype(np.int16)


def stream_text(prompt: str):
    text = ""
    for i in range(1, 6):
        time.sleep(0.1)
        text += ("" if i == 1 else " ") + "{}{}".format(prompt, i)
        yield text


def stream_image(prompt: str):
    r, g, b = colour(prompt)
    for i in range(1, 5):
        time.sleep(0.1)
        yield Image.new("RGB", (16, 16), (r * i // 5, g * i // 5, b * i // 5))
    time.sleep(0.1)
    yield Image.new("RGB", (32, 32), (r, g, b))


def warn(prompt: str):
    gr.Warning("Careful with " + prompt)
    gr.Info("Working on " + prompt)
    return "warned about " + prompt


def refuse(prompt: str):
    raise gr.Error("The prompt is not allowed: " + prompt)


def nothing(prompt: str):
    return None


def slow_text(seconds: float, progress=gr.Progress()):
    steps = max(1, int(float(seconds) * 10))
    for _ in progress.tqdm(range(steps), desc="Waiting"):
        time.sleep(0.1)
    return "slept {} s".format(seconds)


with gr.Blocks(analytics_enabled=False) as more_app:
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", value="a red cat")
        n = gr.Number(label="How many", value=3, precision=0)
        seconds = gr.Number(label="Seconds", value=2)
    with gr.Row():
        gallery = gr.Gallery(label="Gallery", format="png")
        gallery_text = gr.Textbox(label="Gallery caption")
    with gr.Row():
        file_list = gr.File(label="Files", file_count="multiple")
        picture = gr.Image(label="WebP", type="pil", format="webp")
        sound = gr.Audio(label="Audio", format="wav")
    with gr.Row():
        streamed = gr.Textbox(label="Streamed text")
        frame = gr.Image(label="Frames", type="pil", format="png")
        answer = gr.Textbox(label="Answer")
    gr.Button("Gallery").click(gallery_caption, [prompt, n], [gallery, gallery_text], api_name="gallery_caption")
    gr.Button("Files").click(files, prompt, file_list, api_name="files")
    gr.Button("WebP").click(webp, prompt, picture, api_name="webp")
    gr.Button("Audio").click(audio, prompt, sound, api_name="audio")
    gr.Button("Stream text").click(stream_text, prompt, streamed, api_name="stream_text")
    gr.Button("Stream image").click(stream_image, prompt, frame, api_name="stream_image")
    gr.Button("Warn").click(warn, prompt, answer, api_name="warn")
    gr.Button("Refuse").click(refuse, prompt, answer, api_name="refuse")
    gr.Button("Nothing").click(nothing, prompt, answer, api_name="nothing")
    gr.Button("Slow").click(slow_text, seconds, answer, api_name="slow_text", concurrency_limit=1)

demo = gr.TabbedInterface(
    [caption_app, count_app, describe_app, classify_app, highlight_app, maybe_app, more_app],
    ["Caption", "Count", "Describe", "Classify", "Highlight", "Maybe", "More"],
    title="Tempera kinds",
)


def warm_up(url: str):
    from gradio_client import Client

    Client(url, verbose=False).predict(0.3, api_name="/slow_text")
    print("[tempera] queue warmed up", flush=True)


if __name__ == "__main__":
    warmup = os.environ.get("TEMPERA_QUEUE_WARMUP") == "1"
    demo.queue(default_concurrency_limit=4).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        share=False,
        show_error=False,
        prevent_thread_lock=warmup,
    )
    if warmup:
        warm_up(demo.local_url)
        demo.block_thread()
