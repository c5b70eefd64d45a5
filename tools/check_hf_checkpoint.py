#!/usr/bin/env python3
"""Check a Hugging Face model folder the way transformers' loader sees it, with torch and no other package.

  /usr/bin/python3 tools/check_hf_checkpoint.py DIR... [--reference REF.safetensors]

The safetensors format is parsed here from its definition (u64 little-endian header size, JSON header, raw
little-endian data), independently of align4j's Java reader. Checked:
- config.json is a JSON object with a model_type and a torch_dtype naming the dtype of every tensor;
- either model.safetensors alone, or model.safetensors.index.json whose weight_map names only plain files of the
  folder called model-0000i-of-0000N.safetensors, whose metadata.total_size is the tensors' bytes, and whose
  weight_map lists exactly the tensors of the shards;
- each file: header within the file, __metadata__ {"format": "pt"}, data offsets that tile the data buffer in
  order with no gap or overlap, data aligned to 8 bytes, byte sizes matching dtype and shape.
With --reference (a safetensors file of F32 tensors of the same names, the values before saving), every tensor
must equal torch's own rounding of the reference to the checkpoint's dtype, bit for bit (ref.to(dtype)).
Prints one line per tensor and "OK" per folder; exits 1 with the reason at the first folder that fails. Used by HfCheckpointWriterTest.
"""
import argparse, json, os, re, struct, sys
import torch

DTYPES = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2),
          "I32": (torch.int32, 4), "I64": (torch.int64, 8)}
TORCH_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


class Bad(Exception):
    pass


def read_safetensors(path, require_pt=True):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise Bad(f"{path}: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise Bad(f"{path}: header size {n} runs past the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    if (8 + n) % 8 != 0:
        raise Bad(f"{path}: data does not start 8-byte aligned")
    meta = header.pop("__metadata__", None)
    if require_pt and (meta or {}).get("format") != "pt":
        raise Bad(f"{path}: __metadata__ {meta} lacks format=pt (transformers refuses it)")
    data = raw[8 + n:]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    at = 0
    tensors = {}
    for name, e in entries:
        dt = e["dtype"]
        if dt not in DTYPES:
            raise Bad(f"{path}: {name}: unexpected dtype {dt}")
        tdt, size = DTYPES[dt]
        begin, end = e["data_offsets"]
        numel = 1
        for d in e["shape"]:
            numel *= d
        if begin != at:
            raise Bad(f"{path}: {name}: starts at {begin}, expected {at} (gap or overlap)")
        if end - begin != numel * size:
            raise Bad(f"{path}: {name}: {end - begin} bytes for shape {e['shape']} of {dt}")
        at = end
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=tdt) if numel > 0 else torch.empty(0, dtype=tdt)
        tensors[name] = (dt, t.reshape(e["shape"]))
    if at != len(data):
        raise Bad(f"{path}: {len(data) - at} bytes after the last tensor")
    return meta, tensors


def check(folder, reference):
    config = json.load(open(os.path.join(folder, "config.json")))
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise Bad("config.json: no model_type")
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(single):
        if os.path.exists(index):
            raise Bad("both model.safetensors and an index")
        tensors.update(read_safetensors(single)[1])
    else:
        idx = json.load(open(index))
        wm = idx["weight_map"]
        files = sorted(set(wm.values()))
        n = len(files)
        want = [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
        if files != want:
            raise Bad(f"shard names {files}, expected {want}")
        if list(wm.keys()) != sorted(wm.keys()):
            raise Bad("weight_map keys are not sorted")
        total = 0
        for f in files:
            _, ts = read_safetensors(os.path.join(folder, f))
            for name, (dt, t) in ts.items():
                if wm.get(name) != f:
                    raise Bad(f"{f}: tensor {name} is mapped to {wm.get(name)}")
                if name in tensors:
                    raise Bad(f"tensor {name} in two shards")
                tensors[name] = (dt, t)
                total += t.numel() * t.element_size()
        if set(tensors) != set(wm):
            raise Bad(f"weight_map lists {sorted(set(wm) - set(tensors))} that no shard holds")
        if idx["metadata"]["total_size"] != total:
            raise Bad(f"total_size {idx['metadata']['total_size']}, the tensors hold {total} bytes")
        print(f"index: {n} shards, total_size {total}")
    dts = {dt for dt, _ in tensors.values()}
    if len(dts) != 1 or config.get("torch_dtype") != TORCH_NAME[next(iter(dts))]:
        raise Bad(f"config torch_dtype {config.get('torch_dtype')} but tensors of {sorted(dts)}")
    if reference:
        _, ref = read_safetensors(reference, require_pt=False)
        if set(ref) != set(tensors):
            raise Bad(f"tensors {sorted(tensors)} but reference {sorted(ref)}")
        for name, (dt, t) in tensors.items():
            r = ref[name][1].to(DTYPES[dt][0])
            if r.shape != t.shape:
                raise Bad(f"{name}: shape {list(t.shape)} vs reference {list(r.shape)}")
            ints = {2: torch.int16, 4: torch.int32}[t.element_size()]
            diff = (r.view(ints) != t.view(ints)).nonzero()
            if len(diff):
                i = tuple(diff[0].tolist())
                raise Bad(f"{name}{list(i)}: saved {t[i].item()!r}, torch rounds the reference to {r[i].item()!r}")
    for name, (dt, t) in sorted(tensors.items()):
        print(f"{name} {dt} {list(t.shape)}")
    print("OK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--reference")
    a = ap.parse_args()
    for d in a.dirs:
        print(f"== {d}")
        try:
            check(d, a.reference)
        except (Bad, KeyError, ValueError, OSError) as e:
            print(f"FAIL: {d}: {e}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
