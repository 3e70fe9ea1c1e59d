"""Makes tiny model files in the real formats and layouts that the real ComfyUI loads through its
normal loaders, with random weights (fixed seeds: the same bytes on every run), so a CPU samples a
small image in seconds. Nothing is downloaded. The images are noise; the loading, sampling,
previews, interrupt and error paths are the real ones.

    <ComfyUI home>/venv/bin/python make_tiny_models.py <ComfyUI tree> <models folder>

writes into <models folder> (ComfyUI's layout, for an extra_model_paths.yaml):

  checkpoints/tempera-tiny-sd15.safetensors
      An SD 1.5 checkpoint (the original single-file layout: model.diffusion_model.*,
      cond_stage_model.transformer.text_model.*, first_stage_model.*), fp16. ComfyUI infers the
      model type from tensor shapes (comfy/model_detection.py); for SD 1.5 (comfy/supported_models.py
      SD15) it pins only model channels 320, context 768, no linear transformer projections, no
      class embedding. So the UNet here has one level (channel_mult [1]), one res block, a depth-1
      transformer in the input block (it is what tells the context size), none in the two output
      blocks and no middle block. The text encoder (CLIP-L, comfy/sd1_clip_config.json) and the VAE
      (AutoencoderKL, ch 128, ch_mult [1, 2, 4, 4]) have fixed shapes in this ComfyUI: full size.
  upscale_models/tempera-tiny-esrgan-x2.safetensors, tempera-tiny-esrgan-x4.safetensors
      ESRGAN (RRDBNet) in the Real-ESRGAN ("new-arch") key layout, as the chaiNNer loader in
      comfy_extras/chainner_models detects it: 8 features, one RRDB block (gc 32 is fixed there).
      (The old-arch keys model.N.* do not survive safetensors' sorted key order in that loader.)
  upscale_models/tempera-tiny-compact-x4.pth
      Real-ESRGAN v2 "compact" (SRVGGNetCompact): 8 features, one body conv; a torch .pth with
      {"params": ...} like the published ones (that loader reads the layer count from the last key,
      so it needs the file's own key order, which safetensors does not keep).
  tiny-models.json
      What was made: files, shapes, parameter counts, sha256.

Each file is loaded back through ComfyUI's own loaders before the script ends, and any missing
key, unexpected key or wrong detection fails it.
"""

import hashlib
import json
import logging
import os
import sys
import time
import zlib

SEED = 20261202


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_tiny_models.py <ComfyUI tree> <models folder>")
    tree, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    # ComfyUI reads its command line when comfy.model_management is imported
    sys.argv = [sys.argv[0], "--cpu"]
    sys.path.insert(0, tree)
    import comfy.options

    comfy.options.enable_args_parsing()
    started = time.time()
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    manifest = {"seed": SEED, "torch": torch.__version__, "files": {}}
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    os.makedirs(os.path.join(out, "upscale_models"), exist_ok=True)

    sd15 = os.path.join(out, "checkpoints", "tempera-tiny-sd15.safetensors")
    manifest["files"]["checkpoints/tempera-tiny-sd15.safetensors"] = make_sd15(sd15)
    for scale in (2, 4):
        name = f"tempera-tiny-esrgan-x{scale}.safetensors"
        manifest["files"]["upscale_models/" + name] = make_esrgan(
            os.path.join(out, "upscale_models", name), scale)
    name = "tempera-tiny-compact-x4.pth"
    manifest["files"]["upscale_models/" + name] = make_compact(
        os.path.join(out, "upscale_models", name), 4)

    for rel, info in manifest["files"].items():
        info["sha256"] = sha256(os.path.join(out, rel))
    with open(os.path.join(out, "tiny-models.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    log(f"tiny models made and checked in {time.time() - started:.1f} s")


def log(message):
    print(f"[tempera] {message}", file=sys.stderr, flush=True)


# the UNet config that comfy/model_detection.py infers from the tensor shapes below (and that
# SD15 matches: context_dim 768, model_channels 320, use_linear_in_transformer False, no adm)
UNET = {
    "use_checkpoint": False,
    "image_size": 32,
    "use_spatial_transformer": True,
    "legacy": False,
    "adm_in_channels": None,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [0, 0],
    "channel_mult": [1],
    "transformer_depth_middle": -2,  # no middle block
    "use_linear_in_transformer": False,
    "context_dim": 768,
    "use_temporal_resblock": False,
    "use_temporal_attention": False,
}


def make_sd15(path):
    import torch
    import comfy.sd1_clip
    import comfy.supported_models
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    t = time.time()
    config = comfy.supported_models.SD15(dict(UNET))
    # the modules only for their parameter names and shapes: built on the meta device, no memory
    with torch.device("meta"), torch.no_grad():
        unet = UNetModel(**config.unet_config, device="meta")
        clip = comfy.sd1_clip.SD1ClipModel(device="meta")
        vae = AutoencoderKL(
            ddconfig={"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3,
                      "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
                      "attn_resolutions": [], "dropout": 0.0},
            embed_dim=4)
    # the single-file layout as ComfyUI's own CheckpointSave writes it (BaseModel.state_dict_for_saving)
    shapes = {}
    shapes.update(config.process_unet_state_dict_for_saving(shapes_of(unet)))
    shapes.update(config.process_clip_state_dict_for_saving(shapes_of(clip)))
    shapes.update(config.process_vae_state_dict_for_saving(shapes_of(vae)))
    sd = {key: random_tensor(key, shape, torch.float16) for key, shape in sorted(shapes.items())}
    save_safetensors(sd, path)
    made = time.time() - t

    counts = {}
    for prefix in ("model.diffusion_model.", "cond_stage_model.", "first_stage_model."):
        counts[prefix.rstrip(".")] = sum(v.numel() for k, v in sd.items() if k.startswith(prefix))
    del sd
    t = time.time()
    check_sd15(path)
    log(f"{os.path.basename(path)}: {sum(counts.values()) / 1e6:.1f} M parameters "
        f"(UNet {counts['model.diffusion_model'] / 1e6:.1f} M), made in {made:.1f} s, "
        f"loaded back as SD 1.5 in {time.time() - t:.1f} s")
    return {"kind": "SD 1.5 checkpoint", "dtype": "float16", "unet": UNET,
            "parameters": counts, "tensors": len(shapes)}


def check_sd15(path):
    """Loads the file as CheckpointLoaderSimple does and fails on any missing or unexpected key."""
    import torch
    import comfy.model_detection
    import comfy.sd
    import comfy.supported_models
    import comfy.utils

    sd = comfy.utils.load_torch_file(path)
    detected = comfy.model_detection.detect_unet_config(sd, "model.diffusion_model.")
    if detected != UNET:
        raise SystemExit(f"detected UNet config {detected} is not the intended {UNET}")
    model_config = comfy.model_detection.model_config_from_unet(sd, "model.diffusion_model.")
    if type(model_config) is not comfy.supported_models.SD15:
        raise SystemExit(f"detected as {type(model_config).__name__}, not SD15")
    del sd

    complaints = []

    class Catch(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            # a real SD 1.5 file has no CLIP text projection or logit scale (CheckpointSave drops
            # them too); ComfyUI keeps its defaults for those two
            if message.startswith("clip missing: "):
                missing = set(eval(message[len("clip missing: "):], {}))
                missing -= {"clip_l.logit_scale", "clip_l.transformer.text_projection.weight"}
                if not missing:
                    return
            if ("missing" in message.lower() or "unexpected" in message.lower()
                    or "left over" in message.lower()):
                complaints.append(message[:500])

    catch = Catch(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(catch)
    root.setLevel(logging.DEBUG)
    try:
        # ComfyUI runs its nodes without autograd (execution.py)
        with torch.inference_mode():
            model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(
                path, output_vae=True, output_clip=True)
    finally:
        root.removeHandler(catch)
        root.setLevel(level)
    if model is None or clip is None or vae is None:
        raise SystemExit("CheckpointLoaderSimple's loader did not return model, CLIP and VAE")
    if model.model.model_type.name != "EPS":
        raise SystemExit(f"model type {model.model.model_type.name}, not EPS")
    if complaints:
        raise SystemExit("ComfyUI complained while loading the checkpoint:\n" + "\n".join(complaints))


def rrdb_new_arch(nf, scale):
    """Real-ESRGAN's RRDBNet keys and shapes: conv_first, body.0.rdb{1..3}.conv{1..5}, conv_body,
    conv_up{1..}, conv_hr, conv_last; growth channels 32, one RRDB block."""
    gc = 32
    shapes = {"conv_first.weight": (nf, 3, 3, 3), "conv_first.bias": (nf,)}
    for rdb in (1, 2, 3):
        for conv in range(1, 6):
            cin = nf + (conv - 1) * gc
            cout = gc if conv < 5 else nf
            shapes[f"body.0.rdb{rdb}.conv{conv}.weight"] = (cout, cin, 3, 3)
            shapes[f"body.0.rdb{rdb}.conv{conv}.bias"] = (cout,)
    shapes["conv_body.weight"] = (nf, nf, 3, 3)
    shapes["conv_body.bias"] = (nf,)
    for up in range(1, {2: 1, 4: 2}[scale] + 1):
        shapes[f"conv_up{up}.weight"] = (nf, nf, 3, 3)
        shapes[f"conv_up{up}.bias"] = (nf,)
    shapes["conv_hr.weight"] = (nf, nf, 3, 3)
    shapes["conv_hr.bias"] = (nf,)
    shapes["conv_last.weight"] = (3, nf, 3, 3)
    shapes["conv_last.bias"] = (3,)
    return shapes


def make_esrgan(path, scale, nf=8):
    import torch

    shapes = rrdb_new_arch(nf, scale)
    sd = {key: random_tensor(f"esrgan-x{scale}/{key}", shape, torch.float32, gain=0.5)
          for key, shape in shapes.items()}
    save_safetensors(sd, path)
    check_upscaler(path, "ESRGAN", scale, len(shapes))
    return {"kind": f"ESRGAN (RRDBNet, Real-ESRGAN key layout) x{scale}", "dtype": "float32",
            "features": nf, "rrdb_blocks": 1, "growth_channels": 32,
            "parameters": sum(v.numel() for v in sd.values()), "tensors": len(sd)}


def make_compact(path, scale, nf=8, convs=1):
    import torch

    shapes = {"body.0.weight": (nf, 3, 3, 3), "body.0.bias": (nf,), "body.1.weight": (nf,)}
    for i in range(convs):
        shapes[f"body.{2 + 2 * i}.weight"] = (nf, nf, 3, 3)
        shapes[f"body.{2 + 2 * i}.bias"] = (nf,)
        shapes[f"body.{3 + 2 * i}.weight"] = (nf,)  # PReLU
    last = 2 + 2 * convs
    shapes[f"body.{last}.weight"] = (3 * scale * scale, nf, 3, 3)
    shapes[f"body.{last}.bias"] = (3 * scale * scale,)
    params = {}
    for key, shape in shapes.items():
        if len(shape) == 1 and key.endswith(".weight"):  # PReLU slopes
            params[key] = torch.full(shape, 0.25)
        else:
            params[key] = random_tensor(f"compact-x{scale}/{key}", shape, torch.float32, gain=0.5)
    torch.save({"params": params}, path)
    check_upscaler(path, "SRVGG (RealESRGAN)", scale, len(shapes))
    return {"kind": f"Real-ESRGAN compact (SRVGGNetCompact) x{scale}", "dtype": "float32",
            "features": nf, "body_convs": convs,
            "parameters": sum(v.numel() for v in params.values()), "tensors": len(params)}


def check_upscaler(path, arch, scale, tensors):
    """Loads the file as UpscaleModelLoader does; its architecture, scale and every key must fit."""
    import torch
    import comfy.utils
    from comfy_extras.chainner_models import model_loading

    sd = comfy.utils.load_torch_file(path, safe_load=True)
    model = model_loading.load_state_dict(sd).eval()
    if model.model_arch != arch or model.scale != scale:
        raise SystemExit(f"{path}: detected {model.model_arch} x{model.scale}, not {arch} x{scale}")
    if len(model.state_dict()) != tensors:
        raise SystemExit(f"{path}: the model has {len(model.state_dict())} tensors, the file {tensors}")
    with torch.no_grad():
        y = model(torch.rand(1, 3, 8, 8))
    if tuple(y.shape) != (1, 3, 8 * scale, 8 * scale) or not torch.isfinite(y).all():
        raise SystemExit(f"{path}: an 8x8 image came out {tuple(y.shape)}")
    log(f"{os.path.basename(path)}: {model.model_arch} x{model.scale}, "
        f"{sum(p.numel() for p in model.parameters())} parameters")


def shapes_of(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def random_tensor(key, shape, dtype, gain=1.0):
    """Deterministic per key (its own seed), scaled so activations stay near 1: norm weights 1,
    biases 0, embeddings N(0, 0.02), other weights N(0, gain / sqrt(fan in))."""
    import torch

    if len(shape) == 0:
        return torch.zeros((), dtype=dtype)
    if len(shape) == 1:
        return (torch.ones if key.endswith(".weight") else torch.zeros)(shape, dtype=dtype)
    generator = torch.Generator().manual_seed(SEED ^ zlib.crc32(key.encode()))
    if "embedding" in key:
        std = 0.02
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        std = gain / fan_in ** 0.5
    return (torch.randn(shape, generator=generator) * std).to(dtype)


def save_safetensors(sd, path):
    import safetensors.torch

    # one metadata entry: safetensors writes several in a random order, and the bytes would differ
    safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, path, metadata={"format": "pt"})


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


if __name__ == "__main__":
    main()
