#!/usr/bin/python3
"""PyTorch peer of GptTrainBench: the same GPT-2 (pre-LN, tied embeddings, tanh GELU, causal attention by
explicit softmax as the align4j model computes it), the same shape and step — forward with the LM loss,
backward, clip_grad_norm_(1.0), AdamW with decay on 2-D tensors — timed the same way (median step after warm-up).
Prints torch's 2048^2 fp32 matmul GFLOP/s first (DESIGN.md: the peer is only fair with an optimised BLAS, e.g.
Debian's libopenblas0-pthread).

  /usr/bin/python3 bench/torch_gpt_peer.py [--layers 6 --width 384 --heads 6 --T 256 --B 8 --vocab 256 --steps 10]
"""
import argparse, math, os, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.c, self.nh = c, nh
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.attn_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x, causal):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.nh, c // self.nh).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.nh))
        att = att.masked_fill(causal[:t, :t], float("-inf")).softmax(dim=-1)
        x = x + self.attn_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, c, nh, t, v):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(t, c)
        self.h = nn.ModuleList(Block(c, nh) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("causal", torch.triu(torch.ones(t, t, dtype=torch.bool), 1))
        for p in self.parameters():  # GPT-2's init (N(0, 0.02) weights, zero biases), as align4j's Gpt.create
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)
            elif p is not None and p.dim() == 1 and p.shape[0] != c:
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x, self.causal)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    for k, d in [("layers", 6), ("width", 384), ("heads", 6), ("T", 256), ("B", 8), ("vocab", 256), ("steps", 10),
                 ("warmup", 2)]:
        ap.add_argument("--" + k, type=int, default=d)
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    m = torch.randn(2048, 2048)
    m @ m
    t0 = time.perf_counter(); m @ m; dt = time.perf_counter() - t0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: 2048^2 fp32 matmul {2 * 2048 ** 3 / dt / 1e9:.0f} GFLOP/s")
    torch.manual_seed(1)
    model = Gpt(a.layers, a.width, a.heads, a.T, a.vocab)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    idx = torch.randint(0, a.vocab, (a.B, a.T))
    tgt = torch.randint(0, a.vocab, (a.B, a.T))
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        print(f"step {s}: loss {loss.item():.4f}, {dt * 1e3:.1f} ms")
        if s >= a.warmup:
            times.append(dt)
    med = statistics.median(times)
    print(f"PyTorch GPT {a.layers} layers, {a.width} wide, {a.heads} heads, V={a.vocab}, B={a.B}, T={a.T}: "
          f"median step {med * 1e3:.1f} ms = {a.B * a.T / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
