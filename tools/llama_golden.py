#!/usr/bin/python3
"""Golden files for the Llama family: tiny Llama, Qwen2 and Qwen3 models in plain PyTorch, written from the
architecture's definition (transformers' modeling_llama / modeling_qwen2 / modeling_qwen3, re-typed here without
transformers), with fixed random weights.

For each NAME in llama, qwen2, qwen3 it writes src/test/resources/llama_golden/NAME/:
  config.json        Hugging Face's config (model_type, sizes, rms_norm_eps, rope_theta, head_dim, tie_word_embeddings)
  model.safetensors  the weights under Hugging Face's names (F32), as save_pretrained would
  golden.safetensors tokens, targets I32 [B, T]; mask F32 [B, T] (the loss mask, some zeros)
                     logits F32 [B, T, V]; loss F32 [1] = −Σ m·log softmax(logits)[target] / Σ m
                     grad.<hf name> F32: d loss / d parameter, for every parameter
                     adamw.losses F32 [S]: the loss before each of S steps of torch.optim.AdamW from these weights
                     (adamw.hparams, adamw.clip: as in tools/gpt2_golden.py, whose adamw_golden runs the steps)
What each configuration exercises:
  llama  grouped-query attention (4 query heads, 2 key/value heads), an untied lm_head, rope_theta 10000
  qwen2  q/k/v biases, tied embeddings, rope_theta 1e6
  qwen3  per-head q_norm/k_norm before RoPE, head_dim 8 with hidden 24 and 4 heads (head_dim != hidden / heads),
         tied embeddings, no biases
The Java tests load them and need no Python. Regenerate with Debian's python3-torch:
  /usr/bin/python3 tools/llama_golden.py
"""
import json, math, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gpt2_safetensors import save_file  # noqa: E402  (the repository's dependency-free safetensors writer)
from gpt2_golden import adamw_golden  # noqa: E402  (the same AdamW hyperparameters as GPT-2's golden file)

B, T = 2, 7
STEPS = 8

CONFIGS = {
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=37, hidden_size=24,
                  intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
                  max_position_embeddings=64, hidden_act="silu", bos_token_id=1, eos_token_id=2,
                  torch_dtype="float32"),
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=37, hidden_size=24,
                  intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, max_position_embeddings=64,
                  hidden_act="silu", bos_token_id=1, eos_token_id=2, torch_dtype="float32"),
    "qwen3": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], vocab_size=37, hidden_size=24,
                  intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=8, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                  attention_bias=False, max_position_embeddings=64, hidden_act="silu", bos_token_id=1,
                  eos_token_id=2, torch_dtype="float32"),
}


class RmsNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        H, KV, D, C = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["hidden_size"]
        bias = c["model_type"] == "qwen2"
        self.input_layernorm = RmsNorm(C, c["rms_norm_eps"])
        self.q_proj = nn.Linear(C, H * D, bias=bias)
        self.k_proj = nn.Linear(C, KV * D, bias=bias)
        self.v_proj = nn.Linear(C, KV * D, bias=bias)
        self.o_proj = nn.Linear(H * D, C, bias=False)
        if c["model_type"] == "qwen3":
            self.q_norm = RmsNorm(D, c["rms_norm_eps"])
            self.k_norm = RmsNorm(D, c["rms_norm_eps"])
        self.post_attention_layernorm = RmsNorm(C, c["rms_norm_eps"])
        self.gate_proj = nn.Linear(C, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(C, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], C, bias=False)

    def forward(self, x, cos, sin):
        c = self.c
        b, t, _ = x.shape
        H, KV, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, H, D)
        k = self.k_proj(h).view(b, t, KV, D)
        v = self.v_proj(h).view(b, t, KV, D).transpose(1, 2)
        if c["model_type"] == "qwen3":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)  # query head i reads key/value head i // (H / KV)
        v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = att.masked_fill(torch.tril(torch.ones(t, t, dtype=torch.bool)).logical_not(), float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, H * D)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])
        if not c["tie_word_embeddings"]:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, tokens, targets, mask):
        c = self.c
        D = c["head_dim"]
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
        angle = torch.arange(tokens.shape[1], dtype=torch.float64)[:, None] * inv_freq[None, :]
        angle = torch.cat((angle, angle), dim=-1)
        cos, sin = angle.cos().float(), angle.sin().float()
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin)
        head = self.embed_tokens.weight if c["tie_word_embeddings"] else self.lm_head.weight
        logits = self.norm(x) @ head.t()
        logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return logits, -(logp * mask).sum() / mask.sum()

    def hf_named(self):
        """(Hugging Face name, parameter) for every parameter."""
        out = [("model.embed_tokens.weight", self.embed_tokens.weight)]
        for i, l in enumerate(self.layers):
            p = f"model.layers.{i}."
            out.append((p + "input_layernorm.weight", l.input_layernorm.weight))
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                m = getattr(l, n)
                out.append((p + f"self_attn.{n}.weight", m.weight))
                if m.bias is not None:
                    out.append((p + f"self_attn.{n}.bias", m.bias))
            if hasattr(l, "q_norm"):
                out += [(p + "self_attn.q_norm.weight", l.q_norm.weight), (p + "self_attn.k_norm.weight", l.k_norm.weight)]
            out.append((p + "post_attention_layernorm.weight", l.post_attention_layernorm.weight))
            out += [(p + f"mlp.{n}.weight", getattr(l, n).weight) for n in ("gate_proj", "up_proj", "down_proj")]
        out.append(("model.norm.weight", self.norm.weight))
        if hasattr(self, "lm_head"):
            out.append(("lm_head.weight", self.lm_head.weight))
        return out


def golden(name, c, seed):
    c = dict(c)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    torch.manual_seed(seed)
    model = Model(c)
    with torch.no_grad():  # weights big enough that every nonlinearity matters
        for n, p in model.hf_named():
            if p.dim() == 2:
                p.normal_(0.0, 0.3)
            elif n.endswith("norm.weight") or n.endswith("layernorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.1)
    V = c["vocab_size"]
    tokens = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    mask = (torch.rand(B, T) < 0.7).float()
    mask[0, 0], mask[1, T - 1] = 1.0, 0.0

    weights = {n: p.detach().contiguous().clone() for n, p in model.hf_named()}
    out = {"tokens": tokens.int(), "targets": targets.int(), "mask": mask}
    logits, loss = model(tokens, targets, mask)
    loss.backward()
    out["logits"] = logits.detach().contiguous()
    out["loss"] = loss.detach().reshape(1)
    for n, p in model.hf_named():
        out["grad." + n] = p.grad.detach().contiguous().clone()

    losses = adamw_golden(out, model, [p for _, p in model.hf_named()], lambda: model(tokens, targets, mask)[1], STEPS)

    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources",
                                         "llama_golden", name))
    os.makedirs(root, exist_ok=True)
    meta = {"format": "pt", "source": "tools/llama_golden.py", "torch": torch.__version__}
    save_file(weights, os.path.join(root, "model.safetensors"), {"format": "pt"})
    save_file(out, os.path.join(root, "golden.safetensors"), meta)
    config = {k: v for k, v in c.items() if not (k == "head_dim" and name != "qwen3")}
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {root}: loss {out['loss'].item():.6f}, adamw losses {[round(x, 5) for x in losses]}")


def main():
    for i, (name, c) in enumerate(CONFIGS.items()):
        golden(name, c, 1234 + i)


if __name__ == "__main__":
    main()
