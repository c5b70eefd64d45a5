#!/usr/bin/python3
"""Golden files for LoRA (low-rank adapters): a tiny base model, an adapter in Hugging Face PEFT's on-disk format,
and PyTorch's outputs and gradients with the adapter on, in plain PyTorch (no peft, no transformers).

LoRA as PEFT computes it: a targeted linear y = x·Wᵀ + b (W [out, in] in nn.Linear terms) becomes
  y = x·Wᵀ + b + scaling·(x·Aᵀ)·Bᵀ      A = lora_A [r, in], B = lora_B [out, r], no dropout
with scaling = lora_alpha / r, or lora_alpha / √r when use_rslora. Merging adds scaling·B·A to W
(for GPT-2's Conv1D, whose weight is stored [in, out], it adds scaling·(B·A)ᵀ).

For each NAME in gpt2, llama it writes src/test/resources/lora_golden/NAME/:
  config.json, model.safetensors   the base model folder in Hugging Face's layout (F32, metadata {"format": "pt"}):
      gpt2   the weights of src/test/resources/gpt2_tiny_golden.safetensors (tools/gpt2_golden.py) under GPT-2
             checkpoint names without the "transformer." prefix (wte.weight, h.0.attn.c_attn.weight [in, out], ...),
             tied embeddings, no lm_head.weight
      llama  a copy of src/test/resources/llama_golden/llama (tools/llama_golden.py): grouped-query attention,
             untied lm_head
  adapter/adapter_config.json      as PEFT's save_pretrained writes it (every LoraConfig field, sorted keys, indent 2);
                                   base_model_name_or_path is the placeholder ".." (the base folder is the adapter's
                                   parent directory; a real PEFT save holds a hub id or a path)
  adapter/adapter_model.safetensors
      base_model.model.<module path>.lora_A.weight F32 [r, in]
      base_model.model.<module path>.lora_B.weight F32 [out, r]     metadata {"format": "pt"}
      <module path> is the module's name inside the *ForCausalLM model, so GPT-2's carries "transformer."
      (transformer.h.0.attn.c_attn) although the base checkpoint's names do not; llama's is model.layers.0.self_attn.q_proj
      gpt2   target_modules c_attn, c_proj (attn.c_proj and mlp.c_proj), c_fc; r 4, lora_alpha 8, use_rslora false
             (scaling 2), fan_in_fan_out true (PEFT forces it for Conv1D)
      llama  target_modules q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; r 4, lora_alpha 8,
             use_rslora true (scaling 4), fan_in_fan_out false
      A and B both drawn from N(0, 0.2) (PEFT would start B at zero) so that the adapter changes every output
  golden.safetensors
      tokens, targets I32 [B, T]; mask F32 [B, T]  (the loss mask, some zeros): those of the base model's own golden file
      logits      F32 [B, T, V]  base + adapter
      loss        F32 [1]        −Σ m·log softmax(logits)[target] / Σ m, with the adapter
      base_logits F32 [B, T, V]  adapter off (equal to the logits in the base model's own golden file)
      base_loss   F32 [1]        the loss with the adapter off
      scaling     F32 [1]        lora_alpha / r or lora_alpha / √r
      grad.<adapter key>  F32    d loss / d lora_A, d loss / d lora_B, for every tensor of adapter_model.safetensors,
                                 under the same name and shape
      merged.<hf name>    F32    W + scaling·B·A for every targeted weight, under its name in model.safetensors and in
                                 its layout there (GPT-2 Conv1D [in, out], Llama [out, in])
The script checks that the merged weights reproduce `logits` (to 1e-5) and that the adapter off reproduces the base
model. The Java tests load the files and need no Python. Regenerate (after tools/gpt2_golden.py and
tools/llama_golden.py, whose outputs it reads) with Debian's python3-torch:
  /usr/bin/python3 tools/lora_golden.py
"""
import json, math, os, sys
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gpt2_safetensors import save_file, load_file  # noqa: E402  (the repository's dependency-free safetensors I/O)
import gpt2_golden  # noqa: E402
import llama_golden  # noqa: E402

RESOURCES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources"))
R, ALPHA, INIT_STD = 4, 8, 0.2


class LoraLinear(nn.Module):
    """A frozen nn.Linear plus PEFT's LoRA branch; `enabled` False is PEFT's disable_adapter()."""

    def __init__(self, base, r, scaling, gen):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = nn.Parameter(INIT_STD * torch.randn(r, base.in_features, generator=gen))
        self.lora_B = nn.Parameter(INIT_STD * torch.randn(base.out_features, r, generator=gen))
        self.scaling = scaling
        self.enabled = True

    def forward(self, x):
        y = self.base(x)
        return y + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling if self.enabled else y


# GPT-2: the module attribute in gpt2_golden.Block, and its name in Hugging Face's GPT-2 block.
GPT2_TARGETS = [("c_attn", "attn.c_attn"), ("attn_proj", "attn.c_proj"), ("c_fc", "mlp.c_fc"), ("mlp_proj", "mlp.c_proj")]
LLAMA_TARGETS = [(n, "self_attn." + n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")] + \
                [(n, "mlp." + n) for n in ("gate_proj", "up_proj", "down_proj")]


def gpt2_model(weights):
    """gpt2_golden.Gpt holding `weights` (HF names and layout, Conv1D [in, out])."""
    model = gpt2_golden.Gpt()
    with torch.no_grad():
        for name, p, conv in model.hf_named():
            p.copy_(weights[name].t() if conv else weights[name])
    return model


def llama_model(c, weights):
    model = llama_golden.Model(c)
    with torch.no_grad():
        for name, p in model.hf_named():
            p.copy_(weights[name])
    return model


def adapter_config(target_modules, fan_in_fan_out, use_rslora):
    # Every field PEFT's LoraConfig serialises (the 0.15-era set), at its default unless set here, so that a reader
    # of real adapters meets the unknown fields it must skip.
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "..", "bias": "none",
        "corda_config": None, "eva_config": None, "exclude_modules": None, "fan_in_fan_out": fan_in_fan_out,
        "inference_mode": True, "init_lora_weights": True, "layer_replication": None, "layers_pattern": None,
        "layers_to_transform": None, "loftq_config": {}, "lora_alpha": ALPHA, "lora_bias": False,
        "lora_dropout": 0.0, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
        "peft_type": "LORA", "r": R, "rank_pattern": {}, "revision": None, "target_modules": target_modules,
        "task_type": "CAUSAL_LM", "trainable_token_indices": None, "use_dora": False, "use_rslora": use_rslora,
    }


def write_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)  # PEFT's and transformers' save_pretrained both sort and indent 2
        f.write("\n")


def lora_golden(name, model, build, weights, targets, data, old_logits, config, peft_cfg, seed):
    """Wraps the targeted linears of `model` (list of (owner module, attribute, HF module name, peft module path,
    conv1d)) in LoraLinear, computes everything golden.safetensors holds, checks it, and writes the folder."""
    scaling = ALPHA / math.sqrt(R) if peft_cfg["use_rslora"] else ALPHA / R
    tokens, tgt, mask = (data[k].long() if k != "mask" else data[k] for k in ("tokens", "targets", "mask"))
    with torch.no_grad():
        plain_logits, _ = model(tokens, tgt, mask)
    # the base model is that of the other golden file, so its logits must come back (to float32 noise: matmul
    # blocking can differ between the two runs)
    assert torch.allclose(plain_logits, old_logits, atol=1e-5, rtol=0), name

    gen = torch.Generator().manual_seed(seed)
    loras = []
    for owner, attr, hf_module, peft_path, conv in targets:
        lora = LoraLinear(getattr(owner, attr), R, scaling, gen)
        setattr(owner, attr, lora)
        loras.append((lora, hf_module, "base_model.model." + peft_path, conv))

    logits, loss = model(tokens, tgt, mask)
    loss.backward()
    with torch.no_grad():
        for lora, *_ in loras:
            lora.enabled = False
        base_logits, base_loss = model(tokens, tgt, mask)
    assert torch.equal(base_logits, plain_logits), name
    assert (logits - base_logits).abs().max() > 0.1, name  # the adapter must matter

    adapter, out = {}, {"tokens": data["tokens"], "targets": data["targets"], "mask": data["mask"],
                        "logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1),
                        "base_logits": base_logits.contiguous(), "base_loss": base_loss.reshape(1),
                        "scaling": torch.tensor([scaling], dtype=torch.float32)}
    merged = dict(weights)
    for lora, hf_module, key, conv in loras:
        for ab in ("lora_A", "lora_B"):
            p = getattr(lora, ab)
            adapter[f"{key}.{ab}.weight"] = p.detach().contiguous().clone()
            out[f"grad.{key}.{ab}.weight"] = p.grad.detach().contiguous().clone()
        delta = scaling * (lora.lora_B @ lora.lora_A).detach()
        w = hf_module + ".weight"
        merged[w] = weights[w] + (delta.t() if conv else delta)
        out["merged." + w] = merged[w].contiguous()
    with torch.no_grad():
        merged_logits, _ = build(merged)(tokens, tgt, mask)
    err = (merged_logits - logits.detach()).abs().max().item()
    assert err < 1e-5, (name, err)

    root = os.path.join(RESOURCES, "lora_golden", name)
    os.makedirs(os.path.join(root, "adapter"), exist_ok=True)
    write_json(config, os.path.join(root, "config.json"))
    save_file(weights, os.path.join(root, "model.safetensors"), {"format": "pt"})
    write_json(peft_cfg, os.path.join(root, "adapter", "adapter_config.json"))
    save_file(adapter, os.path.join(root, "adapter", "adapter_model.safetensors"), {"format": "pt"})
    save_file(out, os.path.join(root, "golden.safetensors"),
              {"format": "pt", "source": "tools/lora_golden.py", "torch": torch.__version__})
    print(f"wrote {root}: scaling {scaling}, loss {loss.item():.6f} (base {base_loss.item():.6f}), "
          f"merged vs adapter max |Δlogits| {err:.2e}")


def gpt2():
    data, _ = load_file(os.path.join(RESOURCES, "gpt2_tiny_golden.safetensors"))
    sizes = [gpt2_golden.L, gpt2_golden.NH, gpt2_golden.C, gpt2_golden.NCTX, gpt2_golden.V]
    assert data["config"].tolist() == sizes, "gpt2_tiny_golden.safetensors is stale: rerun tools/gpt2_golden.py"
    weights = {k[len("param."):]: v for k, v in data.items() if k.startswith("param.")}
    model = gpt2_model(weights)
    targets = [(blk, attr, f"h.{i}.{hf}", f"transformer.h.{i}.{hf}", True)
               for i, blk in enumerate(model.h) for attr, hf in GPT2_TARGETS]
    L, NH, C, NCTX, V = sizes
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": L, "n_head": NH, "n_embd": C,
              "n_ctx": NCTX, "n_positions": NCTX, "vocab_size": V, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new", "tie_word_embeddings": True}
    lora_golden("gpt2", model, gpt2_model, weights, targets, data, data["logits"], config,
                adapter_config(["c_attn", "c_fc", "c_proj"], True, False), 4321)


def llama():
    src = os.path.join(RESOURCES, "llama_golden", "llama")
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    c = dict(config)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    weights, _ = load_file(os.path.join(src, "model.safetensors"))
    data, _ = load_file(os.path.join(src, "golden.safetensors"))
    model = llama_model(c, weights)
    targets = [(layer, attr, f"model.layers.{i}.{hf}", f"model.layers.{i}.{hf}", False)
               for i, layer in enumerate(model.layers) for attr, hf in LLAMA_TARGETS]
    lora_golden("llama", model, lambda w: llama_model(c, w), weights, targets, data, data["logits"], config,
                adapter_config(sorted(a for a, _ in LLAMA_TARGETS), False, True), 4322)


def main():
    torch.manual_seed(0)  # nothing here draws from the global generator; pinned in case something starts to
    gpt2()
    llama()


if __name__ == "__main__":
    main()
