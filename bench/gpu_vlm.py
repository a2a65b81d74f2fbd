"""Figure 7, GPU: the Nanonets-OCR-s architecture (Qwen2.5-VL-3B) with random weights, no download.

    python bench/gpu_vlm.py                 # on a GPU machine: load seconds, pages/s at batch 1, 4, 16
    python bench/gpu_vlm.py --tiny          # a minute-long smoke run of the same code on a CPU

The model is built from its published config with random weights, saved as safetensors and loaded
back with from_pretrained (load seconds). Generation is greedy with min_new_tokens = max_new_tokens
(750 by default), so random weights still produce full-length pages: pages/s measures the work of
real pages. Each page is a real rendered page image at the engine's pixel cap (VLM_MAX_PIXELS).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Qwen2.5-VL-3B-Instruct's published config, which Nanonets-OCR-s fine-tunes.
TEXT_3B = dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
               num_key_value_heads=2, vocab_size=151936, max_position_embeddings=128000, rms_norm_eps=1e-6,
               rope_theta=1000000.0, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
               tie_word_embeddings=True)
VISION_3B = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                 patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                 fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2)
TEXT_TINY = dict(TEXT_3B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=151936, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})
VISION_TINY = dict(VISION_3B, depth=2, hidden_size=64, intermediate_size=128, num_heads=4, out_hidden_size=64,
                   fullatt_block_indexes=[1])
IDS = dict(bos_token_id=151643, eos_token_id=151645, vision_start_token_id=151652, vision_end_token_id=151653,
           image_token_id=151655, video_token_id=151656)
IM_START, IM_END = 151644, 151645


def build_config(tiny: bool):
    from transformers import Qwen2_5_VLConfig

    text, vision = (TEXT_TINY, VISION_TINY) if tiny else (TEXT_3B, VISION_3B)
    return Qwen2_5_VLConfig(text_config={**text, **IDS}, vision_config=vision, **IDS)


def page_inputs(max_pixels: int, batch: int, device):
    """input_ids / pixel_values / image_grid_thw for ``batch`` copies of one real rendered page."""
    import torch
    try:  # the PIL image processor needs no torchvision
        from transformers import Qwen2VLImageProcessorPil as Qwen2VLImageProcessor
    except ImportError:
        from transformers import Qwen2VLImageProcessor

    from tests.pages import text_page

    image = text_page([f"Line {n}: the quick brown fox jumps over the lazy dog" for n in range(30)])
    processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=max_pixels)
    vision = processor(images=[image] * batch, return_tensors="pt")
    grid = vision["image_grid_thw"]
    image_tokens = int(grid[0].prod()) // 4  # spatial_merge_size ** 2
    prompt = [IM_START, 872, 198, IDS["vision_start_token_id"]] + [IDS["image_token_id"]] * image_tokens + \
             [IDS["vision_end_token_id"]] + list(range(1000, 1040)) + [IM_END, 198, IM_START, 77091, 198]
    input_ids = torch.tensor([prompt] * batch, device=device)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values": vision["pixel_values"].to(device),
        "image_grid_thw": grid.to(device),
    }, image_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny config on whatever device there is (smoke run)")
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--new-tokens", type=int, default=750)
    parser.add_argument("--max-pixels", type=int, default=1605632, help="VLM_MAX_PIXELS")
    args = parser.parse_args()

    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("no GPU here: run with --tiny for a smoke run, or on a GPU machine")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    new_tokens = 8 if args.tiny else args.new_tokens
    batches = [1, 2] if args.tiny else [int(b) for b in args.batches.split(",")]
    report = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "tiny": args.tiny,
              "new_tokens_per_page": new_tokens}

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(build_config(args.tiny)).to(dtype)
        model.save_pretrained(folder, safe_serialization=True)
        report["build_and_save_seconds"] = round(time.perf_counter() - started, 1)
        report["parameters_billion"] = round(sum(p.numel() for p in model.parameters()) / 1e9, 2)
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
        started = time.perf_counter()
        # .to(device) rather than device_map=: device_map needs accelerate, which the runtime does not pin.
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=dtype).to(device)
        if device == "cuda":
            torch.cuda.synchronize()
        report["load_seconds"] = round(time.perf_counter() - started, 2)
    model.eval()

    report["pages_per_second"] = {}
    for batch in batches:
        inputs, image_tokens = page_inputs(args.max_pixels, batch, device)
        report["image_tokens_per_page"] = image_tokens
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=2, min_new_tokens=2, do_sample=False)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            output = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
        generated = output.shape[1] - inputs["input_ids"].shape[1]
        assert generated == new_tokens, generated
        report["pages_per_second"][str(batch)] = round(batch / seconds, 3)
        print(f"batch {batch}: {batch / seconds:.3f} pages/s ({seconds:.1f} s for {batch} pages of {new_tokens} tokens)",
              flush=True)
    if device == "cuda":
        report["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
