"""Makes the tiny images ImageSizeTest reads, each of its own size, with Pillow (11.3: WebP and AVIF).

    python3 make.py    # in this folder, with a Python whose Pillow has WebP and AVIF support
"""
import io
import struct

from PIL import Image


def picture(size, mode="RGB"):
    image = Image.new(mode, size)
    for x in range(size[0]):
        for y in range(size[1]):
            value = (x * 40 % 256, y * 60 % 256, (x + y) * 25 % 256)
            image.putpixel((x, y), value + ((x * 30) % 256,) if mode == "RGBA" else value)
    return image


def save(image, name, **options):
    image.save(name, **options)


save(picture((3, 2)), "rgb.png")
save(picture((5, 3)), "baseline.jpg", quality=80)
save(picture((7, 4)), "progressive.jpg", quality=80, progressive=True)
exif = Image.Exif()
exif[0x010E] = "x" * 300  # ImageDescription: an APP1 segment of some size before the frame header
save(picture((6, 9)), "exif.jpg", quality=80, exif=exif.tobytes())
save(picture((6, 5)).convert("P"), "still.gif")
frames = [picture((8, 3)).convert("P"), picture((8, 3)).rotate(180).convert("P")]
frames[0].save("animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
save(picture((9, 4)), "bottom-up.bmp")
# the same, stored top-down: a negative height in the info header (rows reversed)
bmp = bytearray(open("bottom-up.bmp", "rb").read())
offset = struct.unpack_from("<I", bmp, 10)[0]
row = (9 * 3 + 3) // 4 * 4
rows = [bmp[offset + i * row:offset + (i + 1) * row] for i in range(4)]
bmp[offset:offset + 4 * row] = b"".join(reversed(rows))
struct.pack_into("<i", bmp, 22, -4)
open("top-down.bmp", "wb").write(bytes(bmp))
save(picture((10, 6)), "lossy.webp", quality=60)
save(picture((11, 7)), "lossless.webp", lossless=True)
save(picture((12, 8), "RGBA"), "alpha.webp", quality=60)  # lossy with alpha: VP8X, ALPH, VP8
webp_frames = [picture((13, 9)), picture((13, 9)).rotate(180)]
webp_frames[0].save("animated.webp", save_all=True, append_images=webp_frames[1:], duration=100, loop=0)
save(picture((14, 10)), "still.avif", quality=60)
save(picture((15, 11), "RGBA"), "alpha.avif", quality=60)
