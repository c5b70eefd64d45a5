#!/usr/bin/env python3
"""Write (or read back) a tiny GPT-2 checkpoint in Hugging Face's layout, with torch and no other package.

torch has no safetensors writer, so the format is written by hand here, as the safetensors crate lays it
out: u64 little-endian header length, compact JSON header padded with spaces to 8 bytes (tensors sorted by
dtype then name, "__metadata__" {"format": "pt"} first), then the raw little-endian tensor bytes.
Weights follow GPT2LMHeadModel's state dict: Conv1D weights [in, out]; with --hf-extras also the
"transformer." prefix, the attn.bias / attn.masked_bias buffers and a tied lm_head.weight.

  python3 tools/hf_gpt2_safetensors.py write DIR [--dtype F32|F16|BF16] [--hf-extras] [--seed 0]
  python3 tools/hf_gpt2_safetensors.py read FILE      # an independent reader: names, shapes, sums

Used to cross-check the Java reader/writer by hand (src/main/java/dev/align4j/model); tests need no Python.
"""
import argparse, json, os, struct, sys
import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32, "I64": torch.int64,
          "F64": torch.float64, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "BOOL": torch.bool}
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
NAME_OF = {v: k for k, v in DTYPES.items()}


def layout(n_layer, n_embd, n_ctx, vocab):
    C = n_embd
    out = [("wte.weight", [vocab, C]), ("wpe.weight", [n_ctx, C])]
    for i in range(n_layer):
        h = f"h.{i}."
        out += [(h + "ln_1.weight", [C]), (h + "ln_1.bias", [C]),
                (h + "attn.c_attn.weight", [C, 3 * C]), (h + "attn.c_attn.bias", [3 * C]),
                (h + "attn.c_proj.weight", [C, C]), (h + "attn.c_proj.bias", [C]),
                (h + "ln_2.weight", [C]), (h + "ln_2.bias", [C]),
                (h + "mlp.c_fc.weight", [C, 4 * C]), (h + "mlp.c_fc.bias", [4 * C]),
                (h + "mlp.c_proj.weight", [4 * C, C]), (h + "mlp.c_proj.bias", [C])]
    return out + [("ln_f.weight", [C]), ("ln_f.bias", [C])]


def save_file(tensors, path, metadata):
    items = sorted(tensors.items(), key=lambda kv: (-ORDER.index(NAME_OF[kv[1].dtype]), kv[0].encode()))
    header, off, blobs = {"__metadata__": metadata} if metadata else {}, 0, []
    for name, t in items:
        b = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""  # little-endian host
        header[name] = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
        f.flush(); os.fsync(f.fileno())
    os.replace(tmp, path)


def load_file(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode())
    meta = header.pop("__metadata__", {})
    buf = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        raw = bytearray(buf[b:end])
        t = torch.frombuffer(raw, dtype=DTYPES[e["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write"); w.add_argument("dir"); w.add_argument("--dtype", default="F32")
    w.add_argument("--hf-extras", action="store_true"); w.add_argument("--seed", type=int, default=0)
    w.add_argument("--n-layer", type=int, default=2); w.add_argument("--n-embd", type=int, default=8)
    w.add_argument("--n-head", type=int, default=2); w.add_argument("--n-ctx", type=int, default=16)
    w.add_argument("--vocab", type=int, default=11)
    r = sub.add_parser("read"); r.add_argument("file")
    a = ap.parse_args()
    if a.cmd == "read":
        tensors, meta = load_file(a.file)
        print("metadata", json.dumps(meta, sort_keys=True))
        for k in sorted(tensors):
            t = tensors[k]
            s = t.double().sum().item() if t.dtype.is_floating_point else int(t.sum())
            print(k, NAME_OF[t.dtype], list(t.shape), repr(s))
        return
    g = torch.Generator().manual_seed(a.seed)
    dt = DTYPES[a.dtype]
    sd = {k: torch.randn(s, generator=g).to(dt) for k, s in layout(a.n_layer, a.n_embd, a.n_ctx, a.vocab)}
    if a.hf_extras:
        sd = {"transformer." + k: v for k, v in sd.items()}
        mask = torch.tril(torch.ones(a.n_ctx, a.n_ctx)).view(1, 1, a.n_ctx, a.n_ctx).to(dt)
        for i in range(a.n_layer):
            sd[f"transformer.h.{i}.attn.bias"] = mask
            sd[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4).to(dt)
        sd["lm_head.weight"] = sd["transformer.wte.weight"]
    os.makedirs(a.dir, exist_ok=True)
    save_file(sd, os.path.join(a.dir, "model.safetensors"), {"format": "pt"})
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": a.n_layer, "n_head": a.n_head,
           "n_embd": a.n_embd, "n_positions": a.n_ctx, "n_ctx": a.n_ctx, "vocab_size": a.vocab,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    sys.exit(main())
